package transport

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A server may acknowledge every message. An ack that completes no batch
// allocates nothing (and takes no lock: acks.ack reads two atomics).
func TestAcks_AnAckThatCompletesNoBatchAllocatesNothing(t *testing.T) {
	a := newAcks(time.Minute, &testMetrics{})
	a.add(&Pending{First: 1, Last: math.MaxUint64 - 1, PerEvent: true, Events: 10, Resolve: func(int) {}})
	n := uint64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		if completed, err := a.ack(n, math.MaxUint64); completed || err != nil {
			t.Fatalf("ack %d: completed %v, %v", n, completed, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per ack, want 0", allocs)
	}
}

// Whatever the interleaving of the publisher adding batches and the reader
// taking counts, every batch is resolved exactly once, in full, and only
// once the count covers its last message.
func TestAcks_EachBatchIsResolvedOnceWhenTheCountCoversItsLastMessage(t *testing.T) {
	const batches, perBatch = 2000, 5
	a := newAcks(time.Minute, &testMetrics{})
	var (
		resolved [batches]atomic.Int32
		early    atomic.Int64 // resolved before the count covered it
		partial  atomic.Int64
		done     sync.WaitGroup
		sent     atomic.Uint64 // the messages "written": what the reader may acknowledge
	)
	done.Add(batches)
	dead := make(chan struct{})
	go func() { // the reader: acknowledges whatever was sent, one message at a time
		for n := uint64(1); n <= batches*perBatch; n++ {
			for sent.Load() < n { // the publisher has not written it yet
				runtime.Gosched()
			}
			if _, err := a.ack(n, sent.Load()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range batches {
		first := uint64(i*perBatch + 1)
		p := &Pending{First: first, Last: first + perBatch - 1, PerEvent: true, Events: perBatch}
		p.Resolve = func(n int) {
			if a.acked.Load() < p.Last {
				early.Add(1)
			}
			if n != perBatch {
				partial.Add(1)
			}
			resolved[i].Add(1)
			done.Done()
		}
		if !a.waitRoom(dead) {
			t.Fatal("no room")
		}
		sent.Store(p.Last)
		a.add(p)
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(wait):
		t.Fatal("not every batch was resolved")
	}
	for i := range resolved {
		if n := resolved[i].Load(); n != 1 {
			t.Fatalf("batch %d resolved %d times", i, n)
		}
	}
	if early.Load() != 0 || partial.Load() != 0 {
		t.Fatalf("%d batches resolved before the count covered them, %d not in full", early.Load(), partial.Load())
	}
}
