#!/usr/bin/env bash
# Regenerates internal/Protocol/Messages/*.g.cs, ApiKeys.g.cs, KafkaMessages.g.cs and ErrorCode.g.cs
# from the Kafka JSON schemas in internal/Protocol/Schemas. The generated files are committed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec dotnet run --project "$root/tools/ProtocolGen" -c Release -- "$root"
