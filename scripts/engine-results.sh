#!/usr/bin/env bash
# The results table of docs/engines.md: every engine, every fault mix, ENGINE_SEEDS seeds each
# (default 0..10000), seeds in worker processes; prints one markdown row per run (seeds by worst
# outcome, failures, time) and keeps each JSON report in target/engine-results/.
# Usage: scripts/engine-results.sh [ENGINE_SEEDS=A..B] [ENGINE_JOBS=N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p simulator --bin vopr >&2
vopr="${CARGO_TARGET_DIR:-target}/release/vopr"
seeds="${ENGINE_SEEDS:-0..10000}"
jobs="${ENGINE_JOBS:-2}"
out="${CARGO_TARGET_DIR:-target}/engine-results"
mkdir -p "$out"
echo "| engine | faults | correct | error reported | unavailable | data loss | silent corruption | crash | hang | failed (promise broken) | commits acknowledged | crashes | time |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for engine in redb file-wal; do
  for faults in crash at-rest io all; do
    report="$out/$engine-$faults.json"
    "$vopr" engine "$engine" fuzz --seeds "$seeds" --faults "$faults" --jobs "$jobs" \
      --json "$report" > "$out/$engine-$faults.txt" 2>&1 || true
    python3 - "$report" "$engine" "$faults" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
section = report["engine"]
counts = section["outcomes"]
names = ["correct", "error_reported", "unavailable", "data_loss", "silent_corruption", "crash", "hang"]
cells = [str(counts.get(name, 0)) for name in names]
print(f"| {sys.argv[2]} | {sys.argv[3]} | " + " | ".join(cells)
      + f" | {len(report['failures'])} | {section['commits_acked']} | {section['crashes']} | {report['elapsed_s']:.0f} s |")
PY
  done
done
