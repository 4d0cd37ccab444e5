#!/usr/bin/env bash
# Run Hyperledger Caliper 0.6.0 (Fabric connector, peer-gateway mode) against
# a local Chorus network: the create-asset and read-asset rounds of
# benchmarks/assets.yaml. Exits non-zero unless every round finished with no
# failed transaction and every read returned the asset it asked for.
#
#   test/caliper/run.sh [--dir DIR] [--base-port N] [--network-config FILE] [--keep]
#
#   --dir DIR               the Chorus network's directory (default /tmp/chorus-caliper-net).
#                           If it holds no network, one is made with `chorus up`, and stopped
#                           and purged at the end unless --keep. If it holds one, `chorus up`
#                           starts whatever is not running, and the network is left running.
#   --base-port N           first port of a new network's range (default 8400)
#   --network-config FILE   use this Caliper network configuration and start nothing
#                           (for a network that is already running, anywhere)
#   --keep                  leave a network this script made running
#
# Environment: CHORUS (the chorus binary; default bin/chorus of this repository),
# BENCH_CONFIG (default benchmarks/assets.yaml), REPORT_DIR (default
# reports/<run> here), CHORUS_CALIPER_RUN (the run's name, part of every asset
# id so that a network can be benchmarked again; default the time).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
chorus=${CHORUS:-$repo/bin/chorus}
dir=/tmp/chorus-caliper-net
base_port=8400
network_config=
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=$2; shift 2 ;;
	--base-port) base_port=$2; shift 2 ;;
	--network-config) network_config=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

export CHORUS_CALIPER_RUN=${CHORUS_CALIPER_RUN:-$(date +%Y%m%d%H%M%S)}
bench_config=${BENCH_CONFIG:-$here/benchmarks/assets.yaml}
report_dir=${REPORT_DIR:-$here/reports/$CHORUS_CALIPER_RUN}
mkdir -p "$report_dir"
report_dir=$(cd "$report_dir" && pwd)

cd "$here"

# Install exactly what package-lock.json says. No `caliper bind` is needed:
# Caliper 0.6.0's Fabric connector picks its peer-gateway connector because
# @hyperledger/fabric-gateway 1.x resolves (FabricConnectorFactory.js), and
# the fabric:2.5 binding would only `npm install` the two packages that
# package.json already pins (@hyperledger/fabric-gateway@1.5.0,
# @grpc/grpc-js@1.10.3) while rewriting package.json and package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund
fi

made_network=0
if [ -z "$network_config" ]; then
	if [ ! -x "$chorus" ]; then
		echo "run.sh: no chorus binary at $chorus (build it, or set CHORUS)" >&2
		exit 2
	fi
	[ -e "$dir/profiles/caliper-network.yaml" ] || made_network=1
	"$chorus" up --dir "$dir" --base-port "$base_port" --detach
	network_config=$dir/profiles/caliper-network.yaml
	if [ "$made_network" = 1 ] && [ "$keep" = 0 ]; then
		trap '"$chorus" down --dir "$dir" --purge' EXIT
	fi
fi

log=$report_dir/caliper.log
echo "run $CHORUS_CALIPER_RUN: network configuration $network_config, benchmark $bench_config"
set +e
npx --no-install caliper launch manager \
	--caliper-workspace "$here" \
	--caliper-networkconfig "$network_config" \
	--caliper-benchconfig "$bench_config" \
	--caliper-flow-only-test \
	--caliper-report-path "$report_dir/report.html" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# Judge the run from Caliper's final table: every round must be there with
# some successes and no failure.
plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
verdict=$(printf '%s\n' "$plain" | awk -F'|' '
	/### All test results ###/ { table = 1; next }
	table && NF > 8 && $0 !~ /---/ && $2 !~ /Name/ {
		rounds++
		if ($3 + 0 == 0 || $4 + 0 != 0) bad = bad " " $2
	}
	END {
		if (!rounds) print "no result table"
		else if (bad != "") print "failed or empty rounds:" bad
		else print "ok"
	}')
if [ "$status" != 0 ]; then
	verdict="caliper exited with status $status"
elif printf '%s\n' "$plain" | grep -q 'returned the wrong asset'; then
	verdict="some reads returned the wrong asset"
fi

echo "report: $report_dir/report.html"
echo "log:    $log"
if [ "$verdict" != ok ]; then
	echo "run.sh: FAILED: $verdict" >&2
	exit 1
fi
echo "run.sh: every transaction succeeded"
