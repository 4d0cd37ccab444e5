package network_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/bench"
	"github.com/chorusledger/chorus/internal/network"
)

// benchJSON runs chorus bench with args and decodes its JSON report.
func benchJSON(t *testing.T, args ...string) *bench.Report {
	t.Helper()
	cmd := exec.Command(chorusBinary, append([]string{"bench", "--output", "json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chorus bench %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r bench.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return &r
}

// TestE2EBenchNetworkUp runs `chorus bench --network-up`: the standard
// network comes up, a short create run measures it, every node's ledger
// verifies with equal commit hashes, and the network goes down.
func TestE2EBenchNetworkUp(t *testing.T) {
	needE2E(t)
	dir := filepath.Join(t.TempDir(), "net")
	base := freeBasePort(t, 180)
	t.Cleanup(func() { chorusCLI(t, "down", "--dir", dir, "--purge") })
	html := filepath.Join(t.TempDir(), "report.html")
	profiles := t.TempDir()
	r := benchJSON(t, "--network-up", "--dir", dir, "--base-port", fmt.Sprint(base),
		"--duration", "6s", "--warmup", "1s", "--workers", "32", "--html", html, "--profile-dir", profiles)
	t.Logf("create: %.0f tx/s committed, p50 %.0f ms, p99 %.0f ms, %d failed; bound %.0f tx/s",
		r.CommittedTPS, r.LatencyMS.P50, r.LatencyMS.P99, r.Failed, r.SignatureBoundTPS)
	if r.Committed == 0 || r.Failed != 0 || r.Submitted != r.Committed {
		t.Errorf("submitted %d, committed %d, failed %d %v", r.Submitted, r.Committed, r.Failed, r.FailureExamples)
	}
	if r.CommittedTPS <= 0 || r.LatencyMS.P50 <= 0 || r.LatencyMS.P99 < r.LatencyMS.P50 || r.SignatureBoundTPS <= 0 {
		t.Errorf("figures %+v", r)
	}
	if r.Ledger == nil || !r.Ledger.Verified || !r.Ledger.CommitHashesEqual || len(r.Ledger.Nodes) != 5 {
		t.Fatalf("ledger check %+v", r.Ledger)
	}
	if r.Ledger.Nodes[3].CommitHash == "" || r.Ledger.Nodes[3].CommitHash != r.Ledger.Nodes[4].CommitHash {
		t.Errorf("peers' commit hashes %q %q", r.Ledger.Nodes[3].CommitHash, r.Ledger.Nodes[4].CommitHash)
	}
	if len(r.Processes) != 6 {
		t.Fatalf("%d processes measured, want 5 nodes and the client", len(r.Processes))
	}
	// Every process was profiled over the window; the peers' profiles show
	// the contract runtime and signature verification. (At about 100 tx/s
	// each is a few 10 ms samples a peer: asked of both peers together, so
	// that a peer with none by chance does not fail the test.)
	peerCategories := map[string]bool{}
	for _, p := range r.Processes {
		if p.Error != "" || p.CPUSeconds <= 0 {
			t.Errorf("process %+v", p)
		}
		if p.Profile == nil || p.Profile.SampledSeconds <= 0 || len(p.Profile.Categories) == 0 {
			t.Errorf("%s: no CPU profile: %s", p.Name, p.ProfileError)
			continue
		}
		if _, err := os.Stat(p.Profile.File); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if p.Role == string(network.RolePeer) {
			for _, c := range p.Profile.Categories {
				peerCategories[c.Category] = peerCategories[c.Category] || c.Seconds > 0
			}
		}
	}
	if !peerCategories["contract runtime (WebAssembly)"] || !peerCategories["signature verification (ECDSA)"] {
		t.Errorf("the peers' CPU by category names %v", peerCategories)
	}
	if r.Settings.SignatureCacheMisses == 0 || r.Settings.BlockCutting == nil || r.Settings.EndorsementPolicy != "AND('Org1MSP.peer','Org2MSP.peer')" {
		t.Errorf("settings %+v", r.Settings)
	}
	// The orderer that led the channel, asked of the orderers themselves.
	n, err := network.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	orderers := map[string]bool{}
	for _, nd := range n.Nodes(network.RoleOrderer) {
		orderers[nd.Name] = true
	}
	// (One of the two readings may be "unknown" if an election was under
	// way at that moment.)
	named := 0
	for _, l := range r.Settings.RaftLeaders {
		if orderers[l] {
			named++
		}
	}
	if named == 0 {
		t.Errorf("Raft leaders %q, want an orderer of %v", r.Settings.RaftLeaders, orderers)
	}
	page, err := os.ReadFile(html)
	if err != nil || strings.Count(string(page), "<svg") != 2 {
		t.Errorf("HTML report: %v, %d charts", err, strings.Count(string(page), "<svg"))
	}
	// Torn down: no node of the network runs.
	for _, nd := range n.Spec.Nodes {
		if _, running := n.PID(nd); running {
			t.Errorf("%s still runs after the bench", nd.Name)
		}
	}
}

// TestE2EBenchWorkloads runs transfer and read against a network made by
// chorus up: transfer over a small key space provokes MVCC conflicts,
// which are counted by validation code; read evaluates.
func TestE2EBenchWorkloads(t *testing.T) {
	needE2E(t)
	dir, _ := upNetwork(t)
	r := benchJSON(t, "--dir", dir, "--workload", "transfer", "--keys", "5", "--transactions", "150", "--warmup", "0s", "--workers", "16")
	t.Logf("transfer over 5 keys: %d committed, %d failed %v", r.Committed, r.Failed, r.FailuresByCode)
	if r.Submitted != 150 || r.Committed+r.Failed != r.Submitted || r.Committed == 0 {
		t.Errorf("submitted %d, committed %d, failed %d", r.Submitted, r.Committed, r.Failed)
	}
	// Conflicts show at commit (MVCC_READ_CONFLICT) or, when the two
	// endorsers had committed different blocks, at endorsement.
	for code := range r.FailuresByCode {
		if code != "MVCC_READ_CONFLICT" && code != "ENDORSEMENTS_DIFFER" {
			t.Errorf("failures %v %v: only conflicts are expected", r.FailuresByCode, r.FailureExamples)
		}
	}
	if r.Ledger == nil || !r.Ledger.Verified || !r.Ledger.CommitHashesEqual {
		t.Errorf("ledger check %+v", r.Ledger)
	}
	r = benchJSON(t, "--dir", dir, "--workload", "read", "--keys", "5", "--transactions", "200", "--warmup", "0s", "--workers", "16")
	if r.Committed != 200 || r.Failed != 0 {
		t.Errorf("read: %d answered, %d failed %v", r.Committed, r.Failed, r.FailureExamples)
	}

	// A bulk preload: 2,500 assets in three CreateAssets transactions (the
	// last one of 500), then a short create run on top.
	r = benchJSON(t, "--dir", dir, "--preload", "2500", "--preload-batch", "1000", "--transactions", "50", "--warmup", "0s", "--workers", "16")
	if s := r.Settings; s.Preload != 2500 || s.PreloadBatch != 1000 || s.PreloadTransactions != 3 || s.PreloadSeconds <= 0 || s.SettleSeconds <= 0 || s.BusyAfterPreload {
		t.Errorf("preloaded run: settings %+v", s)
	}
	if r.Committed != 50 || r.Failed != 0 {
		t.Errorf("preloaded run: %d committed, %d failed %v", r.Committed, r.Failed, r.FailureExamples)
	}
	out, err := chorusCLI(t, "evaluate", "assets", "GetAllAssets", "--dir", dir)
	if err != nil {
		t.Fatalf("GetAllAssets: %v\n%s", err, out)
	}
	var all []struct{ ID, Owner string }
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("GetAllAssets: %v", err)
	}
	// The run's preloaded ids are <run prefix>-pre-<i>, one prefix.
	preloaded := map[string]map[string]bool{}
	for _, a := range all {
		prefix, n, ok := strings.Cut(a.ID, "-pre-")
		if !ok {
			continue
		}
		if preloaded[prefix] == nil {
			preloaded[prefix] = map[string]bool{}
		}
		preloaded[prefix][n] = true
		if !strings.HasPrefix(a.Owner, "bench") {
			t.Errorf("preloaded asset %+v", a)
		}
	}
	if len(preloaded) != 1 {
		t.Errorf("preloaded assets under %d prefixes, want 1", len(preloaded))
	}
	for prefix, ns := range preloaded {
		if len(ns) != 2500 || !ns["0"] || !ns["2499"] {
			t.Errorf("%d assets %s-pre-*, want 2500 (0 to 2499)", len(ns), prefix)
		}
	}

	// The running peer verifies its own ledger through the admin API.
	n, err := network.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	peer := n.Nodes(network.RolePeer)[0]

	// Both peers timed the Gateway requests and the proposals they
	// endorsed for the other organization.
	for _, p := range n.Nodes(network.RolePeer) {
		resp, err := http.Get("http://" + p.OpsAddress + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`chorus_gateway_request_duration_seconds_count{method="Endorse"}`, `chorus_gateway_request_duration_seconds_count{method="CommitStatus"}`,
			`chorus_gateway_request_duration_seconds_count{method="Evaluate"}`, `chorus_peer_proposal_duration_seconds_count{channel="mychannel",outcome="endorsed"}`} {
			i := strings.Index(string(body), want+" ")
			if i < 0 || strings.HasPrefix(string(body[i+len(want)+1:]), "0\n") {
				t.Errorf("%s: %s missing or zero", p.Name, want)
			}
		}
	}
	out, err = chorusCLI(t, "ledger", "verify", "--channel", "mychannel", "--admin-address", peer.AdminAddress,
		"--cert", n.Path(peer.AdminCertFile), "--key", n.Path(peer.AdminKeyFile), "--tls-ca", n.Path(peer.TLSCAFile))
	if err != nil || !strings.Contains(out, "ledger verified") || !strings.Contains(out, "commit hash at height") {
		t.Errorf("online ledger verify: %v\n%s", err, out)
	}
}
