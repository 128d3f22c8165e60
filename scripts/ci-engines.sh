#!/usr/bin/env bash
# The engine harness in CI: each engine on the simulated file, seeds in child processes.
#   1. calibration: the unsafe settings (redb Durability::None; our WAL acknowledging before its
#      sync) really lose acknowledged data, so their crash-only fuzz must FAIL (exit 1);
#   2. the safe settings pass crash-only seeds, and our WAL every fault kind (its promise covers
#      them one fault at a time; beyond that it reports, never fails the seed);
#   3. redb under damage at rest: its known findings (panics on a damaged page) make this exit 1;
#      the step checks only that the run completes and reports (a runner crash or exit 2 fails);
#   4. the single-fault sweeps (CORDS's table), whole: our WAL passes every cell and every sampled
#      pair; its unsafe setting fails crash cells; redb passes every call fault (EIO, ENOSPC,
#      fsync failure, crash) and fails its at-rest cells only by panics (its known finding).
# Environment: ENGINE_SEEDS (default 0..2000), ENGINE_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p simulator --bin vopr
vopr="${CARGO_TARGET_DIR:-target}/release/vopr"
seeds="${ENGINE_SEEDS:-0..2000}"
jobs="${ENGINE_JOBS:-2}"

expect_exit() {
  local expected="$1"
  shift
  local status=0
  "$@" > /tmp/ci-engine.log 2>&1 || status=$?
  tail -12 /tmp/ci-engine.log
  if [[ "$status" != "$expected" ]]; then
    echo "ci-engines: expected exit $expected, got $status: $*" >&2
    exit 1
  fi
}

for engine in redb file-wal; do
  echo "== calibration: $engine --setting unsafe must lose acknowledged data"
  expect_exit 1 "$vopr" engine "$engine" fuzz --seeds 0..200 --faults crash --setting unsafe --jobs "$jobs"
  grep -q 'checker=acknowledged_lost' /tmp/ci-engine.log
  echo "== $engine --setting safe, crash-only, $seeds"
  expect_exit 0 "$vopr" engine "$engine" fuzz --seeds "$seeds" --faults crash --jobs "$jobs"
done
echo "== file-wal, every fault kind, $seeds"
expect_exit 0 "$vopr" engine file-wal fuzz --seeds "$seeds" --faults all --jobs "$jobs"
echo "== redb, damage at rest (known findings: exit 1 expected), 0..300"
expect_exit 1 "$vopr" engine redb fuzz --seeds 0..300 --faults at-rest --jobs "$jobs"

echo "== sweep: file-wal, every cell (single faults), then 2000 pairs"
expect_exit 0 "$vopr" engine file-wal sweep --jobs "$jobs"
expect_exit 0 "$vopr" engine file-wal sweep --pairs --seeds 0..2000 --jobs "$jobs"
echo "== sweep calibration: file-wal --setting unsafe must fail crash cells"
expect_exit 1 "$vopr" engine file-wal sweep --faults crash --setting unsafe --jobs "$jobs"
grep -q 'NOT ALLOWED crash@call:' /tmp/ci-engine.log
echo "== sweep: redb, every call fault"
expect_exit 0 "$vopr" engine redb sweep --faults write_eio,enospc,fsync_fail,crash --jobs "$jobs"
echo "== sweep calibration: redb --setting unsafe must fail crash cells"
expect_exit 1 "$vopr" engine redb sweep --faults crash --setting unsafe --jobs "$jobs"
grep -q 'NOT ALLOWED crash@call:.*data_loss' /tmp/ci-engine.log
echo "== sweep: redb, faults at rest (known finding: panics, exit 1 expected; nothing else forbidden)"
expect_exit 1 "$vopr" engine redb sweep --faults zeros,junk,bit_flip,read_eio --jobs "$jobs"
if grep 'NOT ALLOWED' /tmp/ci-engine.log | grep -v 'crash (panic)'; then
  echo "ci-engines: redb's at-rest sweep forbids something other than a panic" >&2
  exit 1
fi
