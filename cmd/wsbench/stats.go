package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ackedEvents reads libbeat.output.events.acked from Filebeat's /stats.
func ackedEvents(url string) (int64, error) {
	s, err := getBeatStats(url)
	return s.acked, err
}

// beatStats is what wsbench reads from Filebeat's /stats (http.enabled).
type beatStats struct {
	acked, failed, dropped int64
	rss                    int64 // bytes
	goroutines             int64
}

func getBeatStats(url string) (beatStats, error) {
	var s struct {
		Beat struct {
			Memstats struct{ RSS int64 }
			Runtime  struct{ Goroutines int64 }
		}
		Libbeat struct {
			Output struct {
				Events struct{ Acked, Failed, Dropped int64 }
			}
		}
	}
	if err := getJSON(url, &s); err != nil {
		return beatStats{}, err
	}
	e := s.Libbeat.Output.Events
	return beatStats{e.Acked, e.Failed, e.Dropped, s.Beat.Memstats.RSS, s.Beat.Runtime.Goroutines}, nil
}

// statsClient bounds each request, so that a hung Filebeat fails the
// benchmark instead of hanging it.
var statsClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, v any) error {
	resp, err := statsClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
