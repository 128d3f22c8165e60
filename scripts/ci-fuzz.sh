#!/usr/bin/env bash
# Time-boxed, sharded vopr fuzz pass for CI. Environment:
#   VOPR_SEEDS   range (default 0..2000)    VOPR_SHARD   I/N (default 0/1)
#   VOPR_BUDGET  time budget (default 3m)   VOPR_JSON    report path (default target/vopr-report.json)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p simulator --bin vopr
"${CARGO_TARGET_DIR:-target}/release/vopr" fuzz \
  --seeds "${VOPR_SEEDS:-0..2000}" \
  --shard "${VOPR_SHARD:-0/1}" \
  --time-budget "${VOPR_BUDGET:-3m}" \
  --json "${VOPR_JSON:-target/vopr-report.json}"
