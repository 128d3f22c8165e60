#!/usr/bin/env bash
# Time-boxed, sharded vopr fuzz pass for CI: VOPR_SHARDS shard processes run side by side, each
# writes its JSON report, and `vopr merge` gives the verdict over the whole range (failures,
# coverage of the union). The same flow scales out: see .github/workflows/vopr.yml and deploy/k8s.
# Environment:
#   VOPR_SEEDS   range (default 0..20000)       VOPR_SHARDS  shard processes (default 2)
#   VOPR_BUDGET  time budget per shard (8m)     VOPR_OUT     report directory (default target/vopr)
# Exit: 0 passed, 1 a failing seed or a missing reachable case, 2 bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p simulator --bin vopr
vopr="${CARGO_TARGET_DIR:-target}/release/vopr"
seeds="${VOPR_SEEDS:-0..20000}"
shards="${VOPR_SHARDS:-2}"
out="${VOPR_OUT:-target/vopr}"
mkdir -p "$out"
rm -f "$out"/report-*.json
pids=()
for ((shard = 0; shard < shards; shard++)); do
  # A shard's exit status is not the verdict: merge reads every report.
  "$vopr" fuzz --seeds "$seeds" --shard "$shard/$shards" --jobs 1 \
    --time-budget "${VOPR_BUDGET:-8m}" --json "$out/report-$shard.json" \
    > "$out/shard-$shard.log" 2>&1 &
  pids+=("$!")
done
for pid in "${pids[@]}"; do
  wait "$pid" || true
done
exec "$vopr" merge "$out"/report-*.json --json "$out/merged.json"
