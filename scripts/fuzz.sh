#!/usr/bin/env bash
# Fuzzes one reader with afl-fuzz for MINUTES minutes, starting from the committed seed corpus.
#   scripts/fuzz.sh TARGET MINUTES      targets: request records segment metadata-log snapshot wal
# Builds test/Fuzz, copies its output to out/fuzz/TARGET/bin and instruments the KafScale
# assemblies there with SharpFuzz (the test build stays uninstrumented), runs afl-fuzz on one
# core, then prints executions, paths, coverage and crashes, and replays each crash to show what
# it threw. Installs afl++ and the SharpFuzz tool when missing. docs/reliability.md has the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="request records segment metadata-log snapshot wal"
if [ $# -ne 2 ] || ! [[ " $targets " == *" $1 "* ]] || ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh TARGET MINUTES   (TARGET: ${targets// /, }; MINUTES >= 1)" >&2
  exit 2
fi
target=$1
minutes=$2
sharpfuzz_version=2.3.0

# afl++ from Debian, and the SharpFuzz instrumenter as a dotnet tool kept under out/.
if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing afl++"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq afl++ >/dev/null
fi
tools=out/fuzz/tools
if [ ! -x "$tools/sharpfuzz" ]; then
  echo "fuzz: installing SharpFuzz.CommandLine $sharpfuzz_version"
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$tools" >/dev/null
fi

dotnet build test/Fuzz -c Release -nologo -clp:ErrorsOnly
built=test/Fuzz/bin/Release/net10.0
work=out/fuzz/$target
rm -rf "$work"
mkdir -p "$work"
cp -r "$built" "$work/bin"
# Only the project's own assemblies: coverage of the runtime or of third-party codecs would
# steer the fuzzer towards code KafScale does not own.
for assembly in Protocol Records Common Storage Metadata Snapshot; do
  # The tool is built for an older runtime; let it run on the one installed.
  DOTNET_ROLL_FORWARD=Major "$tools/sharpfuzz" "$work/bin/KafScale.$assembly.dll" >/dev/null
done

dictionary=()
[ -f "test/Fuzz/dictionaries/$target.dict" ] && dictionary=(-x "test/Fuzz/dictionaries/$target.dict")

echo "fuzz: afl-fuzz on $target for $minutes minute(s); findings in $work/findings"
# The .NET runtime is not an AFL-instrumented binary (SharpFuzz talks to afl-fuzz itself), and
# it reserves far more address space than it uses, so no memory limit. One core, and no CPU
# binding: the machine is shared.
AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=60000 AFL_SHUFFLE_QUEUE=0 \
  afl-fuzz -i "test/Fuzz/corpus/$target" -o "$work/findings" -t 5000 -m none -V $((minutes * 60)) "${dictionary[@]}" \
  -- dotnet "$work/bin/KafScale.Fuzz.dll" fuzz "$target" > "$work/afl.log" 2>&1 || {
    echo "fuzz: afl-fuzz failed; the end of $work/afl.log:" >&2
    tail -n 30 "$work/afl.log" >&2
    exit 1
  }

stats=$work/findings/default/fuzzer_stats
stat() { sed -n "s/^$1 *: *//p" "$stats" | head -1; }
crashes=$(stat saved_crashes); [ -n "$crashes" ] || crashes=$(stat unique_crashes)
hangs=$(stat saved_hangs); [ -n "$hangs" ] || hangs=$(stat unique_hangs)
echo "fuzz: $target: $(stat run_time) s, $(stat execs_done) executions ($(stat execs_per_sec)/s), $(stat corpus_count) paths, coverage $(stat bitmap_cvg), ${crashes:-0} crashes, ${hangs:-0} hangs"

shopt -s nullglob
found=("$work"/findings/default/crashes/id* "$work"/findings/default/hangs/id*)
if [ ${#found[@]} -gt 0 ]; then
  echo "fuzz: replaying the saved crashes and hangs on the uninstrumented build:"
  timeout 600 dotnet "$built/KafScale.Fuzz.dll" replay "$target" "${found[@]}" || true
  echo "fuzz: fix the reader, then keep each distinct input in test/Fuzz/crashes/$target/ (the regression test replays them)"
fi
