package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a live progress bar of a phase: on a terminal one line
// redrawn twice a second, elsewhere a line every ten seconds.
type progress struct {
	w        io.Writer
	terminal bool
	live     *live
	name     string
	start    time.Time
	warmup   time.Duration
	total    time.Duration // warm-up + duration; 0 when counting
	count    int64         // transactions to finish, when counting
	base     int64         // live.valid + live.failed at the start

	stop chan struct{}
	done sync.WaitGroup
}

// startProgress begins drawing; the returned function stops and ends the
// line. A nil writer draws nothing.
func startProgress(w io.Writer, terminal bool, l *live, name string, warmup, duration time.Duration, count int) func() {
	if w == nil {
		return func() {}
	}
	p := &progress{w: w, terminal: terminal, live: l, name: name, start: time.Now(), warmup: warmup, stop: make(chan struct{}),
		base: l.valid.Load() + l.failed.Load()}
	if count > 0 {
		p.count = int64(count)
	} else {
		p.total = warmup + duration
	}
	every := 500 * time.Millisecond
	if !terminal {
		every = 10 * time.Second
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		type mark struct {
			at    time.Time
			valid int64
		}
		var marks []mark
		for {
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				marks = append(marks, mark{now, l.valid.Load()})
				// The rate over the last two seconds (or ten, off a terminal).
				for len(marks) > 2 && now.Sub(marks[0].at) > 2*time.Second {
					marks = marks[1:]
				}
				var rate float64
				if len(marks) > 1 {
					first, last := marks[0], marks[len(marks)-1]
					rate = float64(last.valid-first.valid) / last.at.Sub(first.at).Seconds()
				}
				p.draw(now, rate)
			}
		}
	}()
	return func() {
		close(p.stop)
		p.done.Wait()
		if p.terminal {
			fmt.Fprint(p.w, "\r\033[K")
		}
	}
}

func (p *progress) draw(now time.Time, rate float64) {
	elapsed := now.Sub(p.start)
	finished := p.live.valid.Load() + p.live.failed.Load() - p.base
	var frac float64
	var where, stage string
	stage = p.name
	if p.count > 0 {
		frac = float64(finished) / float64(p.count)
		where = fmt.Sprintf("%d/%d", finished, p.count)
	} else {
		frac = elapsed.Seconds() / p.total.Seconds()
		where = fmt.Sprintf("%ds/%ds", int(elapsed.Seconds()), int(p.total.Seconds()))
		if elapsed < p.warmup {
			stage = "warm-up"
		}
	}
	frac = min(max(frac, 0), 1)
	const width = 30
	filled := int(frac * width)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	line := fmt.Sprintf("%-9s [%s] %s  committed %d  %.0f tx/s  in flight %d  failed %d",
		stage, bar, where, p.live.valid.Load(), rate, p.live.inFlight.Load(), p.live.failed.Load())
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K"+line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}
