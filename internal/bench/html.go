package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"maps"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteHTML writes the report as one self-contained HTML page: the
// figures, the settings, the CPU per process, the ledger check, and two
// charts drawn with gonum/plot as inline SVG (no script, no network):
// throughput and latency over time, second by second, the warm-up shaded.
func (r *Report) WriteHTML(w io.Writer) error {
	tps, err := r.throughputChart()
	if err != nil {
		return fmt.Errorf("bench: throughput chart: %w", err)
	}
	lat, err := r.latencyChart()
	if err != nil {
		return fmt.Errorf("bench: latency chart: %w", err)
	}
	procs, rows := r.cpuByCategory()
	return htmlReport.Execute(w, struct {
		*Report
		ThroughputSVG, LatencySVG template.HTML
		Codes                     []string
		PercentOfBound            float64
		ProfiledProcesses         []string
		CategoryRows              []categoryRow
	}{r, tps, lat, slices.Sorted(maps.Keys(r.FailuresByCode)), r.BoundRatio * 100, procs, rows})
}

var (
	committedColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	failedColor    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	sentColor      = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	p99Color       = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	warmupColor    = color.RGBA{R: 0xee, G: 0xee, B: 0xee, A: 0xff}
)

func (r *Report) throughputChart() (template.HTML, error) {
	p := plot.New()
	p.Title.Text = "Throughput"
	p.X.Label.Text = "seconds from the start of the measured window"
	p.Y.Label.Text = "transactions per second"
	sent, committed, failed := make(plotter.XYs, 0, len(r.Series)), make(plotter.XYs, 0, len(r.Series)), make(plotter.XYs, 0, len(r.Series))
	for _, s := range r.Series {
		x := float64(s.T)
		sent = append(sent, plotter.XY{X: x, Y: float64(s.Sent)})
		committed = append(committed, plotter.XY{X: x, Y: float64(s.Committed)})
		failed = append(failed, plotter.XY{X: x, Y: float64(s.Failed)})
	}
	return chart(p, r.Series, []chartSeries{
		{"sent", sent, sentColor, true},
		{"committed", committed, committedColor, false},
		{"failed", failed, failedColor, false},
	})
}

func (r *Report) latencyChart() (template.HTML, error) {
	p := plot.New()
	p.Title.Text = "Latency, submit to commit status"
	p.X.Label.Text = "seconds from the start of the measured window"
	p.Y.Label.Text = "milliseconds"
	p50, p99 := make(plotter.XYs, 0, len(r.Series)), make(plotter.XYs, 0, len(r.Series))
	for _, s := range r.Series {
		if s.Committed == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: float64(s.T), Y: s.P50})
		p99 = append(p99, plotter.XY{X: float64(s.T), Y: s.P99})
	}
	return chart(p, r.Series, []chartSeries{
		{"p50", p50, committedColor, false},
		{"p99", p99, p99Color, false},
	})
}

type chartSeries struct {
	name   string
	xys    plotter.XYs
	color  color.Color
	dashed bool
}

// chart draws the series over a shaded warm-up and returns the SVG.
func chart(p *plot.Plot, secs []Second, lines []chartSeries) (template.HTML, error) {
	p.Add(plotter.NewGrid())
	if len(secs) > 0 && secs[0].T < 0 {
		top := 0.0
		for _, l := range lines {
			for _, xy := range l.xys {
				top = max(top, xy.Y)
			}
		}
		shade, err := plotter.NewPolygon(plotter.XYs{{X: float64(secs[0].T), Y: 0}, {X: 0, Y: 0}, {X: 0, Y: top}, {X: float64(secs[0].T), Y: top}})
		if err != nil {
			return "", err
		}
		shade.Color, shade.LineStyle.Width = warmupColor, 0
		p.Add(shade)
		p.Legend.Add("warm-up", shade)
	}
	for _, l := range lines {
		if len(l.xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(l.xys)
		if err != nil {
			return "", err
		}
		line.Color, line.Width = l.color, vg.Points(1.5)
		if l.dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Points(8)
	p.Y.Min = 0
	wt, err := p.WriterTo(9*vg.Inch, 3.6*vg.Inch, "svg")
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", err
	}
	// The SVG's XML declaration is not allowed inside HTML.
	svg := buf.Bytes()
	if i := bytes.Index(svg, []byte("<svg")); i > 0 {
		svg = svg[i:]
	}
	return template.HTML(svg), nil //nolint:gosec // drawn by gonum/plot from numbers, not from input text
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"us":         func(sec float64) string { return fmt.Sprintf("%.0f", sec*1e6) },
	"pct":        func(share float64) string { return fmt.Sprintf("%.1f%%", share*100) },
	"join":       strings.Join,
	"settleWord": settleWord,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>chorus bench: {{.Workload}} {{printf "%.0f" .CommittedTPS}} tx/s</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.big{font-size:1.6em;font-weight:600}
.bad{color:#b00}.ok{color:#070}svg{max-width:100%;height:auto}
</style></head><body>
<h1>chorus bench — {{.Workload}}, {{.Mode}}</h1>
<p>Started {{.Started.Format "2006-01-02 15:04:05 MST"}}; contract <code>{{.Settings.Contract}}</code> on channel <code>{{.Settings.Channel}}</code>,
endorsement policy <code>{{.Settings.EndorsementPolicy}}</code>; {{.Settings.Workers}} workers{{if .Settings.Rate}} at {{.Settings.Rate}} tx/s{{end}}
over {{.Settings.Connections}} connection(s) per organization.{{if .Interrupted}} <strong class="bad">Interrupted: the figures cover the transactions sent until then.</strong>{{end}}</p>
<table>
<tr><td>committed throughput</td><td class="n big">{{printf "%.1f" .CommittedTPS}} tx/s</td><td>offered {{printf "%.1f" .OfferedTPS}} tx/s over {{printf "%.1f" .WindowSeconds}} s</td></tr>
<tr><td>latency, submit to commit status</td><td class="n">p50 {{printf "%.1f" .LatencyMS.P50}} ms</td><td>p95 {{printf "%.1f" .LatencyMS.P95}} ms · p99 {{printf "%.1f" .LatencyMS.P99}} ms · max {{printf "%.1f" .LatencyMS.Max}} ms</td></tr>
{{with .PhasesMS}}<tr><td>by step (p50 / p99)</td><td class="n">endorse {{printf "%.1f" .Endorse.P50}} / {{printf "%.1f" .Endorse.P99}} ms</td><td>order {{printf "%.1f" .Order.P50}} / {{printf "%.1f" .Order.P99}} ms · commit {{printf "%.1f" .Commit.P50}} / {{printf "%.1f" .Commit.P99}} ms{{if .Queued.Max}} · queued {{printf "%.1f" .Queued.P50}} / {{printf "%.1f" .Queued.P99}} ms{{end}}</td></tr>{{end}}
<tr><td>transactions</td><td class="n">{{.Submitted}} submitted</td><td>{{.Committed}} committed · <span class="{{if .Failed}}bad{{else}}ok{{end}}">{{.Failed}} failed</span>{{range .Codes}} · {{.}} {{index $.FailuresByCode .}}{{end}}</td></tr>
<tr><td>signature bound</td><td class="n">{{printf "%.0f" .SignatureBoundTPS}} tx/s</td><td>{{.SignatureBound.Formula}}; reached {{printf "%.1f" .PercentOfBound}}%{{if .SignatureBound.VerifyNewKeyUS}} (verify with the key's precomputed table; {{printf "%.1f" .SignatureBound.VerifyNewKeyUS}} µs without){{end}}</td></tr>
</table>
{{range $code, $msg := .FailureExamples}}<p class="bad">e.g. {{$code}}: {{$msg}}</p>{{end}}
<h2>Throughput and latency over time</h2>
{{.ThroughputSVG}}
{{.LatencySVG}}
{{if .Processes}}<h2>CPU in the measured window</h2>
<table><tr><th>process</th><th>role</th><th class="n">CPU s</th><th class="n">cores</th><th class="n">µs per tx</th><th class="n">signature cache hits</th><th class="n">signatures verified</th></tr>
{{range .Processes}}<tr><td>{{.Name}}</td><td>{{.Role}}</td>{{if .Error}}<td colspan="5">{{.Error}}</td>{{else}}<td class="n">{{printf "%.2f" .CPUSeconds}}</td><td class="n">{{printf "%.2f" .CoresUsed}}</td><td class="n">{{us .CPUSecondsPerTx}}</td><td class="n">{{.SigCacheHits}}</td><td class="n">{{.SigCacheMisses}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .CategoryRows}}<h2>CPU by category</h2>
<p>Each process's CPU profile over the measured window, split by category (a sample counts for the first category, in this order of
precedence, that names a function of its stack: contract runtime, signature verification, signing, storage, consensus, protobuf, TLS,
hashing, gRPC, garbage collection, allocation, system calls, Chorus's own code; gRPC only through frames nearer the leaf than Chorus's,
so that what its handlers do is not counted as gRPC's); µs per transaction sums each process's share of its own CPU per transaction.</p>
<table><tr><th>category</th>{{range .ProfiledProcesses}}<th class="n">{{.}}</th>{{end}}<th class="n">µs per tx</th></tr>
{{range .CategoryRows}}<tr><td>{{.Category}}</td>{{range .Shares}}<td class="n">{{pct .}}</td>{{end}}<td class="n">{{printf "%.0f" .MicrosPerTx}}</td></tr>
{{end}}</table>{{end}}
{{range .Processes}}{{if .ProfileError}}<p class="bad">No CPU profile of {{.Name}}: {{.ProfileError}}</p>{{end}}{{end}}
<h2>Settings</h2>
<table>
<tr><td>TLS</td><td>{{.Settings.TLS}}</td></tr>
<tr><td>fsync</td><td>{{.Settings.Fsync}}</td></tr>
{{if .Settings.RaftLeaders}}<tr><td>Raft leader</td><td>{{join .Settings.RaftLeaders " then "}}</td></tr>{{end}}
{{with .Settings.BlockCutting}}<tr><td>block cutting</td><td>{{.MaxMessageCount}} transactions, {{.PreferredMaxBytes}} bytes or {{.BatchTimeoutMS}} ms</td></tr>{{end}}
{{if .Settings.ValueBytes}}<tr><td>value size</td><td>{{.Settings.ValueBytes}} bytes</td></tr>{{end}}
{{if .Settings.Keys}}<tr><td>key space</td><td>{{.Settings.Keys}} assets</td></tr>{{end}}
{{if .Settings.Preload}}<tr><td>preloaded</td><td>{{.Settings.Preload}} assets{{if gt .Settings.PreloadBatch 1}}, {{.Settings.PreloadBatch}} a transaction, {{.Settings.PreloadTransactions}} transactions{{end}}{{if .Settings.PreloadSeconds}}, in {{printf "%.1f" .Settings.PreloadSeconds}} s{{end}}{{if .Settings.SettleSeconds}}, the nodes {{settleWord .Settings.BusyAfterPreload}} {{printf "%.1f" .Settings.SettleSeconds}} s later{{end}}</td></tr>{{end}}
{{if .Settings.LedgerHeightStart}}<tr><td>ledger height at start</td><td>{{.Settings.LedgerHeightStart}}</td></tr>{{end}}
{{if .Settings.Orderers}}<tr><td>network</td><td>{{.Settings.Orderers}} orderers, {{.Settings.Peers}} peers</td></tr>{{end}}
<tr><td>signature cache</td><td>{{.Settings.SignatureCacheHits}} hits, {{.Settings.SignatureCacheMisses}} verified</td></tr>
</table>
{{with .Ledger}}<h2>Ledger check</h2>
<p class="{{if and .Verified .CommitHashesEqual}}ok{{else}}bad{{end}}">{{if .Verified}}Every node's ledger verified (hash links, data hashes, Merkle roots, commit hashes, orderer signatures, indexes){{else}}Verification FAILED{{end}};
{{if .CommitHashesEqual}}the peers' commit hashes are equal at height {{.Height}}{{else}}the peers' commit hashes differ or could not be compared{{end}}.{{with .Problem}} {{.}}{{end}}</p>
<table><tr><th>node</th><th class="n">height</th><th class="n">transactions</th><th>commit hash</th></tr>
{{range .Nodes}}<tr><td>{{.Name}}</td><td class="n">{{.Height}}</td><td class="n">{{.Transactions}}</td><td>{{if .Failure}}<span class="bad">{{.Failure}}</span>{{else}}<code>{{.CommitHash}}</code>{{end}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))
