package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusledger/chorus/sdk/client"
)

// Outcomes that are not validation codes: the transaction failed before it
// was committed, at the step named.
const (
	outcomeValid   = "VALID"
	outcomeEndorse = "ENDORSE_FAILED"
	// outcomeDiffer: the endorsers' results differed, so the Gateway could
	// not assemble the transaction. Under contention (transfer over a small
	// key space) the endorsing peers may have committed different blocks
	// when they simulated it, and read different versions.
	outcomeDiffer       = "ENDORSEMENTS_DIFFER"
	outcomeSubmit       = "SUBMIT_FAILED"
	outcomeCommitStatus = "COMMIT_STATUS_FAILED"
	outcomeEvaluate     = "EVALUATE_FAILED"
	outcomeClient       = "CLIENT_FAILED"
)

// result is the fate of one transaction. Times are offsets from the start
// of the phase.
type result struct {
	due  time.Duration // when it was due (fixed rate) or sent (closed loop)
	sent time.Duration // when its proposal was sent
	// endorsed and ordered: when the Gateway returned the endorsed
	// transaction, and when it confirmed that ordering accepted it (its
	// block is durable on an orderer); zero for a query.
	endorsed, ordered time.Duration
	done              time.Duration // when its commit status (or failure) arrived
	outcome           string        // outcomeValid, a validation code name, or a failure step
	err               string        // what went wrong, when it did
	measured          bool          // due within the measured window
}

func (r *result) latency() time.Duration { return r.done - r.due }

// phase is one stretch of load: the warm-up and measurement of a run, or a
// preload.
type phase struct {
	name     string
	gen      generator
	workers  int
	rate     float64       // > 0: fixed schedule; else closed loop
	warmup   time.Duration // not measured
	duration time.Duration // measured, after the warm-up; 0 with count
	count    int           // > 0: measure this many transactions instead
	timeout  time.Duration // per transaction
	// stopWhenExhausted ends the phase when gen returns an empty op.
	stopWhenExhausted bool
}

// phaseResult is what a phase recorded.
type phaseResult struct {
	start   time.Time
	warmEnd time.Duration // the measured window starts here
	results []result      // every transaction, in no order
	stopped bool          // ctx ended before the phase did
}

// live are the counters the progress display reads while a phase runs.
type live struct {
	sent, valid, failed, inFlight atomic.Int64
}

// driver runs phases against a set of contracts (one per Gateway).
type driver struct {
	contracts []*client.Contract
	live      *live
	// onResult, if set, sees every result as it is recorded (from many
	// goroutines).
	onResult func(result)
}

// run offers p's load until it ends or ctx does; transactions in flight
// when either happens are waited for (each within p.timeout), so every
// transaction sent has a recorded fate.
func (d *driver) run(ctx context.Context, p phase) *phaseResult {
	pr := &phaseResult{start: time.Now(), warmEnd: p.warmup}
	end := p.warmup + p.duration
	var measuredSent atomic.Int64
	var exhausted atomic.Bool
	// admit decides whether a transaction due at offset t is sent, and
	// whether it is measured.
	admit := func(t time.Duration) (send, measured bool) {
		if ctx.Err() != nil || exhausted.Load() {
			return false, false
		}
		if t < p.warmup {
			return true, false
		}
		if p.count > 0 {
			return measuredSent.Add(1) <= int64(p.count), true
		}
		return t < end, true
	}

	perWorker := make([][]result, p.workers)
	var wg sync.WaitGroup
	exec := func(w int, seq uint64, rng *rand.Rand, due time.Duration, measured bool) bool {
		o := p.gen(w, seq, rng)
		if o.fn == "" {
			exhausted.Store(true)
			return false
		}
		c := d.contracts[w%len(d.contracts)]
		d.live.sent.Add(1)
		d.live.inFlight.Add(1)
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
		r := result{due: due, sent: time.Since(pr.start), measured: measured}
		outcome, err := execute(tctx, c, o, func() time.Duration { return time.Since(pr.start) }, &r)
		cancel()
		d.live.inFlight.Add(-1)
		r.done, r.outcome = time.Since(pr.start), outcome
		if err != nil {
			r.err = err.Error()
		}
		if outcome == outcomeValid {
			d.live.valid.Add(1)
		} else {
			d.live.failed.Add(1)
		}
		if d.onResult != nil {
			d.onResult(r)
		}
		perWorker[w] = append(perWorker[w], r)
		return true
	}

	// next gives a worker its next transaction: when it is due, whether it
	// is measured, and whether there is one. In a closed loop it is due
	// now; at a fixed rate it comes from the schedule below.
	type slot struct {
		due      time.Duration
		measured bool
	}
	var slots chan slot
	next := func() (slot, bool) {
		due := time.Since(pr.start)
		send, measured := admit(due)
		return slot{due, measured}, send
	}
	if p.rate > 0 {
		slots = make(chan slot, p.workers)
		next = func() (slot, bool) {
			s, ok := <-slots
			return s, ok
		}
	}
	for w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(pr.start.UnixNano())))
			for seq := uint64(0); ; seq++ {
				s, ok := next()
				if !ok || !exec(w, seq, rng, s.due, s.measured) {
					return
				}
			}
		}()
	}
	if p.rate > 0 {
		interval := time.Duration(float64(time.Second) / p.rate)
		timer := time.NewTimer(0)
	schedule:
		for k := int64(0); ; k++ {
			due := time.Duration(k) * interval
			send, measured := admit(due)
			if !send {
				break
			}
			if wait := due - time.Since(pr.start); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					break schedule
				}
			}
			// When every worker is busy the schedule waits here; the
			// latency still counts from due, so the backlog shows.
			select {
			case slots <- slot{due: due, measured: measured}:
			case <-ctx.Done():
				break schedule
			}
		}
		timer.Stop()
		close(slots)
	}
	wg.Wait()
	pr.stopped = ctx.Err() != nil
	for _, rs := range perWorker {
		pr.results = append(pr.results, rs...)
	}
	return pr
}

// execute runs one operation and classifies its fate, recording in r when
// its endorsement and its ordering ended (now gives the time).
func execute(ctx context.Context, c *client.Contract, o op, now func() time.Duration, r *result) (string, error) {
	p, err := c.NewProposal(o.fn, o.args)
	if err != nil {
		return outcomeClient, err
	}
	if o.evaluate {
		if _, err := p.Evaluate(ctx); err != nil {
			return outcomeEvaluate, err
		}
		return outcomeValid, nil
	}
	tx, err := p.Endorse(ctx)
	if err != nil {
		var ee *client.EndorseError
		switch {
		case errors.As(err, &ee) && strings.Contains(err.Error(), "endorsements do not match"):
			return outcomeDiffer, err
		case errors.As(err, &ee):
			return outcomeEndorse, err
		}
		return outcomeClient, err
	}
	r.endorsed = now()
	commit, err := tx.Submit(ctx)
	if err != nil {
		var se *client.SubmitError
		if errors.As(err, &se) {
			return outcomeSubmit, err
		}
		return outcomeClient, err
	}
	r.ordered = now()
	st, err := commit.Status(ctx)
	if err != nil {
		return outcomeCommitStatus, err
	}
	if !st.Successful {
		return st.CodeName, fmt.Errorf("transaction %s committed invalid in block %d: %s (%d)", st.TransactionID, st.BlockNumber, st.CodeName, st.Code)
	}
	return outcomeValid, nil
}
