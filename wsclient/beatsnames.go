package wsclient

import "fmt"

// Beats' names of three settings. Every Beats output calls them worker,
// bulk_max_size and max_retries; this output, after its original design,
// workers, batch_size and retry_limit. Either name sets the same setting;
// both names of one setting stop Filebeat at start, as they could disagree.

// beatsNames pairs each of Beats' names with this output's name of the
// same setting.
var beatsNames = []struct{ beats, ours string }{
	{"worker", "workers"},
	{"bulk_max_size", "batch_size"},
	{"max_retries", "retry_limit"},
}

// checkBeatsNames refuses both names of one setting. It reads which keys
// were written, which the unpacked config, with its defaults, no longer
// shows.
func checkBeatsNames(cfg *rawConfig) error {
	for _, n := range beatsNames {
		if cfg.HasField(n.beats) && cfg.HasField(n.ours) {
			return fmt.Errorf("%s: set together with %s, the same setting (%s is Beats' name for it): give one of them", n.beats, n.ours, n.beats)
		}
	}
	return nil
}

// useBeatsNames moves the values given under Beats' names to the settings
// they name, and says under which key each of workers, batch_size and
// retry_limit was given, for errors that name the key the user wrote.
// Validate calls it: go-ucfg calls Validate right after unpacking.
func (c *config) useBeatsNames() (workers, batchSize, retryLimit string) {
	workers, batchSize, retryLimit = "workers", "batch_size", "retry_limit"
	if c.Worker != nil {
		c.Workers, workers = *c.Worker, "worker"
	}
	if c.BulkMaxSize != nil {
		c.BatchSize, batchSize = *c.BulkMaxSize, "bulk_max_size"
	}
	if c.MaxRetries != nil {
		c.RetryLimit, retryLimit = *c.MaxRetries, "max_retries"
	}
	c.Worker, c.BulkMaxSize, c.MaxRetries = nil, nil, nil
	return workers, batchSize, retryLimit
}
