package encode

// The Beats 7.17 line's part of the tests (beats95/encode/line_test.go has
// 9.5's); the other files of this package are shared by both lines.

import "github.com/elastic/beats/v7/libbeat/common"

// testBeatsVersion is the Beats version the tests give the json codec.
const testBeatsVersion = "7.17.29"

type mapStr = common.MapStr
