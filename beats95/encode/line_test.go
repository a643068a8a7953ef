package encode

// The Beats 9.5 line's part of the tests (encode/line_test.go in the root
// module has 7.17's); the other files of this package are links to the
// root module's.

import "github.com/elastic/elastic-agent-libs/mapstr"

// testBeatsVersion is the Beats version the tests give the json codec.
const testBeatsVersion = "9.5.0"

type mapStr = mapstr.M
