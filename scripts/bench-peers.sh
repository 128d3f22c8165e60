#!/usr/bin/env bash
# Our WAL against its peers, in one run of a few minutes on one machine and one file system:
# SQLite (WAL mode, synchronous=FULL), redb (Durability::Immediate), okaywal and raft-engine,
# every op acknowledged only once durable, payloads of 128 B, 1 KiB and 16 KiB. Per row:
# acknowledged ops/s, p50/p99 acknowledge latency, syncs per op (strace, when installed), bytes
# written per op, and per engine the recovery of a ~64 MiB log (open + read every entry).
# Usage: scripts/bench-peers.sh [DIR] [--seconds S] [--json P] [--quick] [--only TEXT]
#        (DIR defaults to target/bench-peers; it must be on the file system to measure)
set -euo pipefail
cd "$(dirname "$0")/.."
directory="${CARGO_TARGET_DIR:-target}/bench-peers"
if [[ $# -gt 0 && $1 != --* ]]; then
  directory="$1"
  shift
fi
mkdir -p "$directory"
# The bench profile: release with debug assertions off, as users build the peers.
cargo build --quiet --profile bench -p bench-peers
command -v strace > /dev/null || echo "strace not found: syncs per op will read n/a (apt-get install strace)"
cargo run --quiet --profile bench -p bench-peers -- "$directory" "$@"
