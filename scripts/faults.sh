#!/usr/bin/env bash
# The fault suite's long form (see docs/reliability.md): etcd and 3 brokers on the directory store
# or s3rver, real Kafka clients producing and consuming, random faults (seeded) for N minutes, then
# the checker. Prints a summary and a row for the "Long runs" table; exits non-zero when the
# checker fails (1) or the arguments are wrong (2). Builds what it needs first.
#
#   scripts/faults.sh --minutes N [--store directory|s3rver] [--seed S] [--keep-logs DIR] [--faults KIND,...]
#
# KAFSCALE_BINARY overrides the binary under test (default out/kafscale, built when missing).
# When the checker fails or the kill -9 bound is missed, the logs of the brokers, etcd and s3rver
# are kept (default out/faults-logs).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/faults.sh --minutes N [--store directory|s3rver] [--seed S] [--keep-logs DIR] [--faults KIND,...]" >&2; exit 2; }
args=()
store=directory
minutes=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) [ $# -ge 2 ] || usage; minutes=$2; args+=("$1" "$2"); shift 2 ;;
    --store) [ $# -ge 2 ] || usage; store=$2; args+=("$1" "$2"); shift 2 ;;
    --seed|--keep-logs|--faults) [ $# -ge 2 ] || usage; args+=("$1" "$2"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "faults.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$minutes" ] || { echo "faults.sh: --minutes is required" >&2; usage; }
case "$store" in directory|s3rver) ;; *) echo "faults.sh: --store is directory or s3rver, not $store" >&2; usage ;; esac

export KAFSCALE_BINARY="${KAFSCALE_BINARY:-$PWD/out/kafscale}"
[ -x "$KAFSCALE_BINARY" ] || ./scripts/build.sh
# s3rver comes from test/servers; the Python clients and etcd from the distribution.
if [ "$store" = s3rver ] && [ ! -x test/servers/node_modules/.bin/s3rver ]; then ./scripts/install-deps.sh; fi
command -v etcd >/dev/null 2>&1 || ./scripts/install-deps.sh
dotnet build test/Faults -c Release -nologo -clp:ErrorsOnly
exec dotnet test/Faults/bin/Release/net10.0/KafScale.Faults.dll "${args[@]}"
