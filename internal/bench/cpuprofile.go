package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

// CPUBreakdown is where one process spent its CPU in the measured window,
// from a CPU profile: every sample goes to the first category, in the
// order of profileCategories, that claims it (category.claims).
type CPUBreakdown struct {
	// File is the profile, for `go tool pprof`.
	File string `json:"file"`
	// SampledSeconds is the CPU time the profile sampled.
	SampledSeconds float64         `json:"sampled_seconds"`
	Categories     []CategoryShare `json:"categories"`
}

// CategoryShare is one category's part of a profile.
type CategoryShare struct {
	Category string  `json:"category"`
	Seconds  float64 `json:"seconds"`
	// Share is Seconds over the profile's sampled seconds.
	Share float64 `json:"share"`
}

// profileCategories are the parts of a node's work that docs/performance.md
// tracks, most specific first: a signature verification that hashes is
// verification, an allocation made by the contract runtime is the
// contract runtime's. gRPC claims only its own work: what a handler it
// calls does is the handler's (see category.ownWorkOnly).
var profileCategories = []category{
	// runtime._ExternalCode is a sample the Go profiler could not unwind:
	// in a peer, code wazero compiled.
	{name: "contract runtime (WebAssembly)", pattern: regexp.MustCompile(`contract/wasm\.|tetratelabs/wazero|^runtime\._ExternalCode$`)},
	{name: "signature verification (ECDSA)", pattern: regexp.MustCompile(`ecdsa\.[Vv]erify|identity/keytable\.`)},
	{name: "signing (ECDSA)", pattern: regexp.MustCompile(`ecdsa\.[Ss]ign`)},
	{name: "storage (Pebble)", pattern: regexp.MustCompile(`cockroachdb/pebble`)},
	{name: "consensus (etcd raft)", pattern: regexp.MustCompile(`go\.etcd\.io/raft`)},
	// Protobuf's own library, the code vtprotobuf generated into this
	// module's proto packages (methods named ...VT...), and the check
	// zerocopy walks before a decoding that shares its input (ADR 0011).
	{name: "protobuf", pattern: regexp.MustCompile(`google\.golang\.org/protobuf|^github\.com/chorusledger/chorus/proto/.*\.[A-Za-z]*VT[A-Za-z]*$|^github\.com/chorusledger/chorus/internal/zerocopy\.`)},
	{name: "TLS", pattern: regexp.MustCompile(`^crypto/tls\.|crypto/internal/fips140/aes`)},
	{name: "hashing (SHA-256)", pattern: regexp.MustCompile(`sha256`)},
	{name: "gRPC and HTTP/2", pattern: regexp.MustCompile(`google\.golang\.org/grpc|golang\.org/x/net/http2`), ownWorkOnly: true},
	{name: "garbage collection", pattern: regexp.MustCompile(`^runtime\.(gcBgMarkWorker|gcAssist|bgsweep|sweepone|markroot|scanobject|gcDrain|bgscavenge)`)},
	{name: "memory allocation", pattern: regexp.MustCompile(`^runtime\.mallocgc`)},
	{name: "system calls and scheduling", pattern: regexp.MustCompile(`^(syscall\.|internal/runtime/syscall|internal/poll\.)|^runtime\.(netpoll|futex|schedule|findRunnable|park_m|mcall|usleep|osyield)`)},
	// What is left of Chorus's own functions: parsing, validation logic,
	// maps and locks in its handlers and pipelines.
	{name: "Chorus's own code", pattern: chorusCode},
}

// chorusCode matches the functions of this module, the chorus command's
// package main included.
var chorusCode = regexp.MustCompile(`^github\.com/chorusledger/chorus/|^main\.`)

// category is one part of a profile: the samples with a frame its pattern
// matches, unless an earlier category claimed them.
type category struct {
	name    string
	pattern *regexp.Regexp
	// ownWorkOnly: the category claims a sample only through a frame
	// nearer the leaf than every Chorus frame. A gRPC server runs each
	// handler beneath its own frames; without this, every sample of a
	// handler that no earlier category claims (its allocations, its own
	// code) would count as gRPC's.
	ownWorkOnly bool
}

// claims reports whether the category claims the sample.
func (c category) claims(s *profile.Sample) bool {
	for _, loc := range s.Location { // the leaf first
		for _, line := range loc.Line { // the innermost inlined call first
			if line.Function == nil {
				continue
			}
			if c.pattern.MatchString(line.Function.Name) {
				return true
			}
			if c.ownWorkOnly && chorusCode.MatchString(line.Function.Name) {
				return false
			}
		}
	}
	return false
}

// otherCategory collects the samples no category claims.
const otherCategory = "other"

// categorize reads a CPU profile and splits its samples by category.
func categorize(r io.Reader) (*CPUBreakdown, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, err
	}
	valueIndex := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			valueIndex = i
		}
	}
	if valueIndex < 0 {
		return nil, errors.New("not a CPU profile: no cpu/nanoseconds sample type")
	}
	byCategory := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[valueIndex]
		total += v
		byCategory[sampleCategory(s)] += v
	}
	b := &CPUBreakdown{SampledSeconds: round(float64(total)/1e9, 3)}
	for name, ns := range byCategory {
		share := 0.0
		if total > 0 {
			share = float64(ns) / float64(total)
		}
		b.Categories = append(b.Categories, CategoryShare{Category: name, Seconds: round(float64(ns)/1e9, 3), Share: round(share, 4)})
	}
	slices.SortFunc(b.Categories, func(x, y CategoryShare) int {
		return costliestFirst(x.Category, y.Category, x.Seconds, y.Seconds)
	})
	return b, nil
}

// costliestFirst orders categories by cost, the costliest first, then by
// name, with otherCategory last whatever its cost.
func costliestFirst(xName, yName string, xCost, yCost float64) int {
	switch {
	case xName == yName:
		return 0
	case xName == otherCategory:
		return 1
	case yName == otherCategory:
		return -1
	}
	if o := cmp.Compare(yCost, xCost); o != 0 {
		return o
	}
	return strings.Compare(xName, yName)
}

func sampleCategory(s *profile.Sample) string {
	for _, c := range profileCategories {
		if c.claims(s) {
			return c.name
		}
	}
	return otherCategory
}

// profiler records the CPU profile of one process over the measured window:
// a node's through its operations endpoint (/debug/pprof/profile, served
// when the node's operations.profiling is on), the bench process's own
// through runtime/pprof.
type profiler struct {
	file string
	self bool
	url  string
	done chan struct{}
	err  error
	// selfFile is the bench process's profile while it is being written.
	selfFile *os.File
	// stopChunks, for a node profiled in chunks, is closed when the
	// window ends.
	stopChunks chan struct{}
	stopOnce   sync.Once
}

// profileChunk is the length of each profile of a node whose window has
// no length known in advance (a run of a number of transactions): the
// profiler fetches one after another until the window ends, and merges
// them. The last may run up to profileChunk past the window's end.
var profileChunk = 2 * time.Second // whole seconds; tests shorten it

// startProfiler begins profiling one process for window (rounded up to
// whole seconds for a node), or until stop if window is 0. The profile is
// written to dir/name.pprof. A node's profile is abandoned when ctx ends
// first (the run was interrupted): the node sends nothing before the
// window's end, and the run should not wait for it.
func startProfiler(ctx context.Context, dir, name, opsAddress string, self bool, window time.Duration) *profiler {
	pr := &profiler{file: filepath.Join(dir, profileFileName(name)+".pprof"), self: self, done: make(chan struct{})}
	if self {
		defer close(pr.done)
		f, err := os.Create(pr.file)
		if err != nil {
			pr.err = err
			return pr
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			pr.err = fmt.Errorf("starting the CPU profile: %w", err)
			return pr
		}
		pr.selfFile = f
		return pr
	}
	if window <= 0 {
		pr.url = fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", opsAddress, int(profileChunk/time.Second))
		pr.stopChunks = make(chan struct{})
		go func() {
			defer close(pr.done)
			pr.err = fetchProfileChunks(ctx, pr.url, pr.file, pr.stopChunks)
		}()
		return pr
	}
	seconds := int((window + time.Second - 1) / time.Second)
	pr.url = fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", opsAddress, seconds)
	go func() {
		defer close(pr.done)
		pr.err = fetchProfile(ctx, pr.url, pr.file, window+time.Minute)
	}()
	return pr
}

// fetchProfileChunks fetches profiles from url one after another until
// stop is closed, and writes them merged into file. A chunk that fails
// ends the profile: what was merged before it is written, and the error
// says the profile stops early.
func fetchProfileChunks(ctx context.Context, url, file string, stop <-chan struct{}) error {
	var merged *profile.Profile
	for {
		var buf bytes.Buffer
		if err := fetchProfileTo(ctx, url, &buf, profileChunk+time.Minute); err != nil {
			if ctx.Err() != nil || merged == nil {
				return err // interrupted, or nothing to keep
			}
			if werr := writeProfile(merged, file); werr != nil {
				return werr
			}
			return fmt.Errorf("the profile ends early, at a chunk that failed: %w", err)
		}
		p, err := profile.Parse(&buf)
		if err != nil {
			return fmt.Errorf("%s: %w", url, err)
		}
		if merged == nil {
			merged = p
		} else if merged, err = profile.Merge([]*profile.Profile{merged, p}); err != nil {
			return fmt.Errorf("merging the profiles of %s: %w", url, err)
		}
		select {
		case <-stop:
			return writeProfile(merged, file)
		default:
		}
	}
}

func writeProfile(p *profile.Profile, file string) error {
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

func fetchProfile(ctx context.Context, url, file string, timeout time.Duration) error {
	var buf bytes.Buffer
	if err := fetchProfileTo(ctx, url, &buf, timeout); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

// fetchProfileTo fetches the profile at url into w.
func fetchProfileTo(ctx context.Context, url string, w io.Writer, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, context.Canceled) {
		return errors.New("no profile: the run was interrupted before the window's end")
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: not found: the node serves profiles only with operations.profiling: true in its configuration", url)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	return nil
}

// stop ends the bench process's own profile, and a node's profiled in
// chunks once its current chunk ends; a node's profiled for a window ends
// by itself.
func (pr *profiler) stop() {
	if pr.stopChunks != nil {
		pr.stopOnce.Do(func() { close(pr.stopChunks) })
	}
	if pr.self && pr.selfFile != nil {
		pprof.StopCPUProfile()
		if err := pr.selfFile.Close(); err != nil && pr.err == nil {
			pr.err = err
		}
		pr.selfFile = nil
	}
}

// breakdown waits for the profile and splits it by category.
func (pr *profiler) breakdown() (*CPUBreakdown, error) {
	<-pr.done
	if pr.err != nil {
		return nil, pr.err
	}
	f, err := os.Open(pr.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := categorize(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pr.file, err)
	}
	b.File = pr.file
	return b, nil
}

// profileFileName turns a process name into a file name.
func profileFileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '-'
	}, name)
}

// categoryRow is one category across the profiled processes.
type categoryRow struct {
	Category string
	// Shares holds the category's share of each profiled process's CPU.
	Shares []float64
	// MicrosPerTx is the category's CPU per committed transaction summed
	// over the processes: each process's share of its own CPU per
	// transaction.
	MicrosPerTx float64
}

// cpuByCategory lays the profiles out as a table: the profiled processes,
// and a row per category, the costliest first.
func (r *Report) cpuByCategory() (processes []string, rows []categoryRow) {
	var profiled []ProcessCPU
	for _, pc := range r.Processes {
		if pc.Profile != nil {
			profiled = append(profiled, pc)
			processes = append(processes, pc.Name)
		}
	}
	index := map[string]int{}
	for i, pc := range profiled {
		for _, c := range pc.Profile.Categories {
			k, ok := index[c.Category]
			if !ok {
				k = len(rows)
				index[c.Category] = k
				rows = append(rows, categoryRow{Category: c.Category, Shares: make([]float64, len(profiled))})
			}
			rows[k].Shares[i] = c.Share
			rows[k].MicrosPerTx += c.Share * pc.CPUSecondsPerTx * 1e6
		}
	}
	slices.SortFunc(rows, func(x, y categoryRow) int {
		return costliestFirst(x.Category, y.Category, x.MicrosPerTx, y.MicrosPerTx)
	})
	return processes, rows
}
