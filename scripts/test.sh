#!/usr/bin/env bash
# Installs everything the tests need, builds the AOT binary and runs every test project.
# Ends with one summary line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

./scripts/install-deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }
./scripts/build.sh || { echo "test.sh: build failed"; exit 1; }
dotnet build kafscale.sln -c Release -nologo -clp:ErrorsOnly || { echo "test.sh: solution build failed"; exit 1; }

export KAFSCALE_BINARY="$PWD/out/kafscale"
results="$PWD/out/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0

# The committed generated protocol code must be what the generator makes of the schemas
# (about a second: the solution build above built the generator).
protocol_ok=1
protocol_check=$(./scripts/check-protocol.sh 2>&1) || { protocol_ok=0; status=1; }
echo "$protocol_check"

run_project() {
  local name; name=$(basename "$(dirname "$1")")
  echo "=== $name"
  dotnet test "$1" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --logger "console;verbosity=minimal"
}

# The cluster scenarios and the fault suite's short form (about three minutes together) spend
# their time waiting for leases to expire and processes to move, not computing, so they run one
# after the other beside the other projects instead of after them; their output follows the others'.
cluster_log="$results/cluster-lane.log"
( lane=0
  for project in test/Cluster.Tests/Cluster.Tests.csproj test/Faults/Faults.csproj; do
    run_project "$project" || lane=1
  done
  exit $lane ) >"$cluster_log" 2>&1 &
cluster_pid=$!

for project in test/*/*.csproj; do
  name=$(basename "$(dirname "$project")")
  case "$name" in Benchmarks|TestSupport|Cluster.Tests|Faults) continue ;; esac
  run_project "$project" || status=1
done
wait "$cluster_pid" || status=1
cat "$cluster_log"

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); p=${p:-0}
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=${f:-0}
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); t=${t:-0}
  e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters"); e=${e:-0}
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + t - e))
done
if [ "$passed" -eq 0 ]; then status=1; fi
# Repeated next to the summary, so the fix is not lost above the test output.
[ "$protocol_ok" -eq 1 ] || echo "$protocol_check" | tail -1
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
