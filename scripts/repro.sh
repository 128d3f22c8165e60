#!/usr/bin/env bash
# Reproduce one seed: its verdict, then its readable trace into target/replay-SEED.txt.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/repro.sh SEED" >&2; exit 2; }
cd "$(dirname "$0")/.."
cargo build --release -p simulator --bin vopr
"${CARGO_TARGET_DIR:-target}/release/vopr" replay "$1" > "target/replay-$1.txt" || true
echo "trace: target/replay-$1.txt"
exec "${CARGO_TARGET_DIR:-target}/release/vopr" run "$1"
