package wsclient

import "fmt"

// readConfig is the one way in for output.websocket's settings: the checks
// of the configuration as written (rawcheck.go, beatsnames.go), unpacking
// over the defaults with go-ucfg, which runs config.Validate (validate.go),
// and loading the ssl settings. It returns the configuration and the TLS
// settings (nil when there are none), or the first error, a configError:
// "output.websocket.KEY: ..." (configerror.go).
func readConfig(cfg *rawConfig) (config, *tlsConfig, error) {
	for _, check := range []func(*rawConfig) error{checkServerKeys, checkBeatsNames, checkShapes} {
		if err := check(cfg); err != nil {
			return config{}, nil, asConfigError(cfg, err)
		}
	}
	c := defaultConfig()
	if err := cfg.Unpack(&c); err != nil {
		return config{}, nil, asConfigError(cfg, err)
	}
	tlsConfig, err := loadTLS(c.TLS)
	if err != nil {
		return config{}, nil, configError{fmt.Errorf("ssl: %w", err)}
	}
	return c, tlsConfig, nil
}
