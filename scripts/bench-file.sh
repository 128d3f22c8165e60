#!/usr/bin/env bash
# The file driver against plain I/O on the same filesystem, in one run of a few seconds:
# acknowledged append/s with group commit (batches of 1, 4, 16 per sync; 4 KiB and 64 KiB bodies)
# vs a raw pwrite+fdatasync-per-record loop (buffered, then
# O_DIRECT where allowed), and recovery of a full WAL vs a sequential read + crc32c.
# Usage: scripts/bench-file.sh [DIR] [--seconds S]   (DIR defaults to target/bench-file)
set -euo pipefail
cd "$(dirname "$0")/.."
directory="${1:-${CARGO_TARGET_DIR:-target}/bench-file}"
shift || true
mkdir -p "$directory"
# The bench profile: release with debug assertions off (the journal's invariant checks are for
# simulation builds). Cargo puts its binaries in the release directory, so run it through cargo.
cargo build --quiet --profile bench -p file-storage --example bench
echo "machine:    $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(nproc) CPUs"
echo "filesystem: $(df -T "$directory" | awk 'NR == 2 { print $2 " on " $1 " (" $7 ")" }')"
cargo run --quiet --profile bench -p file-storage --example bench -- "$directory" "$@"
