#!/usr/bin/env bash
# Mutation testing of the journal (DESIGN.md §6): every mutant cargo-mutants makes of journal/src
# must be killed by the journal's own tests or by the simulator's tests, which include a vopr
# fuzz of VOPR_TEST_SEEDS (simulator/tests/fuzz_env.rs). A full run takes hours on 2 cores: shard
# it, or restrict it to one file. Environment:
#   MUTANTS_SHARD    k/n: run only shard k of n (default: every mutant)
#   MUTANTS_FILE     mutate only this file, e.g. journal/src/header.rs (default: all of journal/src)
#   MUTANTS_JOBS     mutants built and tested in parallel (default 1)
#   VOPR_TEST_SEEDS  fuzz range run against each mutant (default 0..300)
#   MUTANTS_OUT      directory for mutants.out (default target/mutants)
#   --vopr-only      (first argument) kill mutants with the VOPR alone: `vopr fuzz` over
#                    VOPR_TEST_SEEDS plus every scenario (simulator/tests/fuzz_env.rs), no unit
#                    test. Other arguments go to cargo-mutants (e.g. --re, --list).
#   MUTANTS_TIMEOUT  seconds the tests of one mutant may take (default 120; the unmutated
#                    workspace tests with the default fuzz range take about 14 s)
# Needs `cargo install cargo-mutants --locked`. Results: $MUTANTS_OUT/mutants.out/outcomes.json,
# caught.txt, missed.txt, timeout.txt, unviable.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
fi
export VOPR_TEST_SEEDS="${VOPR_TEST_SEEDS:-0..300}"
vopr_only=false
if [[ "${1:-}" == "--vopr-only" ]]; then
  vopr_only=true
  shift
fi
if $vopr_only; then
  # Only the simulator's fuzz_env test target: a vopr fuzz of VOPR_TEST_SEEDS and every scenario.
  # cargo-mutants 27 runs its baseline in the mutated package (journal), which has no such
  # target: skip it (the unmutated tree passes the same range in .ci/run).
  tests=(--test-package simulator --baseline skip)
else
  # Every test of the workspace: the journal's and the simulator's (a vopr fuzz among them).
  tests=(--test-workspace true)
fi
args=(
  --package journal
  "${tests[@]}"
  # The `mutation` profile (root Cargo.toml) is release with its assertions, built incrementally:
  # a mutant rebuilds in about 3 s instead of the release profile's 20 s.
  --profile mutation
  # Planted bugs are not the journal's logic: mutating them proves nothing.
  --exclude journal/src/canary.rs
  --jobs "${MUTANTS_JOBS:-1}"
  # cargo-mutants 27 runs the unmutated baseline with the journal's tests only, so the timeout it
  # derives from it would be far too short for the workspace's (the fuzz range among them).
  --timeout "${MUTANTS_TIMEOUT:-120}"
  --output "${MUTANTS_OUT:-target/mutants}"
)
if [[ -n "${MUTANTS_SHARD:-}" ]]; then
  args+=(--shard "$MUTANTS_SHARD")
fi
if [[ -n "${MUTANTS_FILE:-}" ]]; then
  args+=(--file "$MUTANTS_FILE")
fi
if $vopr_only; then
  exec cargo mutants "${args[@]}" "$@" -- --test fuzz_env
fi
exec cargo mutants "${args[@]}" "$@"
