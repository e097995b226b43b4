#!/usr/bin/env bash
# Installs everything the tests need, builds the solution and the AOT binary and runs every test
# project: those that need no binary while the binary is built, the others after, in
# KAFSCALE_TEST_LANES parallel lanes (default 3). Ends with one summary line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
results="$PWD/out/test-results"

run_project() {
  local name; name=$(basename "$(dirname "$1")")
  local started=$SECONDS rc=0
  # The built test assembly (the newest, should an older target framework's be left over), not the
  # project: given a project, dotnet test first evaluates it with MSBuild, several seconds a project
  # on a busy 2-core machine. The project is the fallback.
  local target dll
  target=$1
  for dll in "$(dirname "$1")"/bin/Release/*/"KafScale.$name.dll"; do
    if [ -f "$dll" ] && { [ "$target" = "$1" ] || [ "$dll" -nt "$target" ]; }; then target=$dll; fi
  done
  echo "=== $name"
  if [ "$target" = "$1" ]; then set -- "$1" -c Release --no-build -nologo; else set -- "$target"; fi
  dotnet test "$@" \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --logger "console;verbosity=minimal" || rc=1
  echo "--- $name: $((SECONDS - started)) s"
  return "$rc"
}

# One unit of work for a lane: a test project. Its output is printed whole once it ends, so lanes
# never interleave their lines.
run_unit() {
  local log="$results/$1.log" rc=0
  run_project "test/$1/$1.csproj" >"$log" 2>&1 || rc=1
  flock "$results/.print" cat "$log"
  return "$rc"
}
# The lanes below run each unit as "scripts/test.sh --unit NAME".
if [ "${1:-}" = --unit ]; then run_unit "$2"; exit; fi

./scripts/install-deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }
# The solution first (every test project, and the libraries the binary is made of), then the
# native-AOT publish in the background: it reuses those libraries and spends its time in the AOT
# compiler, while the projects that need no binary run.
{ ./scripts/install-build-deps.sh && ./scripts/build-console.sh; } || { echo "test.sh: build failed"; exit 1; }
dotnet build kafscale.sln -c Release -nologo -clp:ErrorsOnly || { echo "test.sh: solution build failed"; exit 1; }

export KAFSCALE_BINARY="$PWD/out/kafscale"
rm -rf "$results"; mkdir -p "$results"
status=0

# The committed generated protocol code must be what the generator makes of the schemas
# (about a second: the solution build above built the generator).
protocol_ok=1
protocol_check=$(./scripts/check-protocol.sh 2>&1) || { protocol_ok=0; status=1; }
echo "$protocol_check"

# Units run in lanes; each lane takes the next unit as soon as its last one ends. Longest first,
# from the durations each run prints ("--- NAME: N s"), so the lanes end at about the same time.
# In process: these projects start no kafscale binary, so they run (in one lane) during the publish.
in_process=(Broker.Tests Metadata.Tests Parquet.Tests Protocol.Tests Avro.Tests Storage.S3.Tests Iceberg.Tests
  Records.Tests Groups.Tests Fuzz Storage.Tests Observability.Tests)
# With the binary: in KAFSCALE_TEST_LANES lanes (default 3) once it is built. Three, not two:
# the cluster scenarios and the fault suite spend most of their time waiting for leases to expire
# and processes to move, so a third lane uses the CPU the two leave idle. A project missing from
# both lists runs last, here.
with_binary=(Cluster.Tests Integration Processor.Tests WebConsole.Tests Faults Snapshot.Tests Admin.Tests Packaging.Tests Client.Tests)
check_units() {
  local unit
  for unit in "$@"; do
    if [ -f "test/$unit/$unit.csproj" ]; then echo "$unit"; else echo "test.sh: no project test/$unit: take it out of its list" >&2; return 1; fi
  done
}
first=$(check_units "${in_process[@]}") || status=1
second=$(check_units "${with_binary[@]}") || status=1
for project in test/*/*.csproj; do
  name=$(basename "$(dirname "$project")")
  case " Benchmarks TestSupport ${in_process[*]} ${with_binary[*]} " in *" $name "*) continue ;; esac
  second+=$'\n'"$name"
done

echo "--- install and solution build: $SECONDS s"
./scripts/build.sh >"$results/build.log" 2>&1 &
build_pid=$!
grep -v '^$' <<<"$first" | xargs -P 1 -I{} ./scripts/test.sh --unit {} || status=1
if ! wait "$build_pid"; then
  cat "$results/build.log"
  echo "test.sh: build failed"
  exit 1
fi
tail -1 "$results/build.log"
echo "--- binary built, in-process tests done: $SECONDS s"
grep -v '^$' <<<"$second" | xargs -P "${KAFSCALE_TEST_LANES:-3}" -I{} ./scripts/test.sh --unit {} || status=1

echo "--- tests with the binary done: $SECONDS s"
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
