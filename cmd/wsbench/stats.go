package main

import (
	"github.com/beats-websocket/websocket-output/testbed"
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
	if err := testbed.GetJSON(nil, url, &s); err != nil {
		return beatStats{}, err
	}
	e := s.Libbeat.Output.Events
	return beatStats{e.Acked, e.Failed, e.Dropped, s.Beat.Memstats.RSS, s.Beat.Runtime.Goroutines}, nil
}
