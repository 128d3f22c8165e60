#!/usr/bin/env bash
# The simulator's speed, in one run (issue 17): seeds/s and simulated ops/s per core over a fixed
# seed range; scaling from one job to all cores; cost per op of one workload on rings of 16, 32
# and 64 slots; where the time goes (checkers, journal, simulated disk, checksums; from `perf`
# where installed); the same range on a base commit built side by side, as a ratio; and the
# criterion benches of the journal's hot paths.
#
# Usage: scripts/bench.sh [--seeds A..B] [--base COMMIT] [--quick]
#   --seeds   the fixed range (default 0..200)
#   --base    the commit to compare against (default b6bdeff, the commit before issue 17)
#   --quick   skip the base build and the criterion benches
# Everything runs in the release profile (assertions on, as the VOPR runs).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=0..200
base=b6bdeff
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --base) base="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        *) echo "bench.sh: unknown argument $1 (use --seeds A..B, --base COMMIT, --quick)" >&2; exit 2 ;;
    esac
done
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench"
mkdir -p "$work"
cores=$(nproc)

cargo build --quiet --release -p simulator --bin vopr
cp "$target/release/vopr" "$work/vopr-new"
new="$work/vopr-new"

# One fuzz run; prints "elapsed_s seeds ops" from its JSON report.
fuzz() {
    local binary="$1" json="$2"
    shift 2
    "$binary" fuzz --json "$json" "$@" >/dev/null 2>&1 || {
        echo "bench.sh: $binary fuzz $* failed; see its report $json" >&2
        exit 1
    }
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["elapsed_s"], r["seeds_run"], r.get("ops", 0))' "$json"
}

echo "machine: $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $cores CPUs"
echo "commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)'), seeds $seeds"
echo

read -r one_s one_seeds one_ops < <(fuzz "$new" "$work/one.json" --seeds "$seeds" --jobs 1)
read -r all_s all_seeds _ < <(fuzz "$new" "$work/all.json" --seeds "$seeds" --jobs "$cores")
python3 - "$one_s" "$one_seeds" "$one_ops" "$all_s" "$all_seeds" "$cores" <<'EOF'
import sys
one_s, seeds, ops, all_s, all_seeds, cores = map(float, sys.argv[1:])
print(f"throughput, 1 job:     {seeds / one_s:7.1f} seeds/s per core, {ops / one_s:9.0f} simulated ops/s per core ({int(seeds)} seeds, {int(ops)} ops, {one_s:.1f} s)")
print(f"scaling, 1 -> {int(cores)} jobs:  {(all_seeds / all_s) / (seeds / one_s):5.2f}x ({all_s:.1f} s with {int(cores)} jobs)")
EOF

echo
echo "cost per op, one workload (--ops 300, the seeds' other draws, pipeline and write depths"
echo "held at what a 16-slot ring allows) on rings of 16, 32, 64 slots; then the same without"
echo "crashes (each restart's recovery reads and checks the whole ring); fastest of 5 rounds,"
echo "each round running every ring once, so that a slow spell of a shared VM hits all rings:"
rounds=5
runs=""
for round in $(seq "$rounds"); do
    for without in "" crash; do
        for slots in 16 32 64; do
            read -r s _ ops < <(fuzz "$new" "$work/ring$slots$without.json" --seeds "$seeds" \
                --jobs 1 --slots "$slots" --ops 300 ${without:+--without "$without"})
            runs="$runs $round ${without:-all} $slots $s $ops"
        done
    done
done
python3 - $runs <<'EOF'
import sys
values = sys.argv[1:]
runs = [(int(values[i]), values[i + 1], int(values[i + 2]), float(values[i + 3]), int(values[i + 4]))
        for i in range(0, len(values), 5)]
cost, ops_of, best = {}, {}, {}
for round_, kind, slots, s, ops in runs:
    cost[(round_, kind, slots)] = s * 1e6 / ops
    ops_of[(kind, slots)] = ops
    best[(kind, slots)] = min(best.get((kind, slots), s), s)
for kind in ("all", "crash"):
    for slots in (16, 32, 64):
        s, ops = best[(kind, slots)], ops_of[(kind, slots)]
        label = "" if kind == "all" else " (no crashes)"
        print(f"  {slots:3} slots{label}: {s * 1e6 / ops:6.1f} us/op ({ops} ops in {s:.1f} s)")
def ratio(kind):
    return (best[(kind, 64)] / ops_of[(kind, 64)]) / (best[(kind, 16)] / ops_of[(kind, 16)])
rounds = sorted({r for r, *_ in runs})
per_round = " ".join(f"{cost[(r, 'all', 64)] / cost[(r, 'all', 16)]:.2f}" for r in rounds)
print(f"  64 / 16 slots: {ratio('all'):.2f}x (round by round: {per_round}); without crashes {ratio('crash'):.2f}x")
EOF

echo
if command -v perf >/dev/null && perf record -o /dev/null -- true >/dev/null 2>&1; then
    profile_seeds="0..100"
    perf record --quiet -F 999 --call-graph dwarf -o "$work/perf.data" -- \
        "$new" fuzz --seeds "$profile_seeds" --jobs 1 >/dev/null 2>&1
    echo "where the time goes (perf, seeds $profile_seeds, 1 job; a sample counts for the checkers"
    echo "if any frame of its stack is a checker or the journal's invariant check, else by its leaf):"
    perf script -i "$work/perf.data" -F ip,sym 2>/dev/null | python3 -c '
import sys
shares = {"checkers + invariants": 0, "journal": 0, "simulated disk": 0, "checksums": 0, "simulator (model, network)": 0, "other": 0}
stack, total = [], 0
def classify(frames):
    if any("simulator::checkers::" in f or "assert_invariants" in f for f in frames):
        return "checkers + invariants"
    for f in frames:
        if "crc32c" in f:
            return "checksums"
        if f.startswith("journal::") or "<journal::" in f:
            return "journal"
        if f.startswith("fault_models::") or "<fault_models::" in f:
            return "simulated disk"
        if f.startswith("simulator::") or "<simulator::" in f:
            return "simulator (model, network)"
    return "other"
for line in sys.stdin:
    line = line.strip()
    if not line:
        if stack:
            shares[classify(stack)] += 1
            total += 1
        stack = []
        continue
    parts = line.split(None, 1)
    stack.append(parts[1] if len(parts) > 1 else "")
if stack:
    shares[classify(stack)] += 1
    total += 1
for name, count in shares.items():
    print(f"  {name:28} {100 * count / max(total, 1):5.1f}%")
'
else
    echo "where the time goes: perf is not available here"
fi

if [ "$quick" = 1 ]; then
    exit 0
fi

echo
base_dir="$work/base-$base"
if [ ! -d "$base_dir" ]; then
    git worktree add --detach "$base_dir" "$base" >/dev/null 2>&1
fi
CARGO_TARGET_DIR="$work/base-target" cargo build --quiet --release -p simulator --bin vopr \
    --manifest-path "$base_dir/Cargo.toml"
read -r base_s base_seeds _ < <(fuzz "$work/base-target/release/vopr" "$work/base.json" --seeds "$seeds" --jobs 1)
python3 - "$one_s" "$one_seeds" "$base_s" "$base_seeds" "$base" <<'EOF'
import sys
one_s, seeds, base_s, base_seeds = map(float, sys.argv[1:5])
print(f"against {sys.argv[5]}: {base_seeds / base_s:.1f} seeds/s per core there, {seeds / one_s:.1f} here: {(seeds / one_s) / (base_seeds / base_s):.2f}x")
EOF

echo
echo "criterion (cargo bench -p journal --bench hot_paths; debug assertions off):"
cargo bench --quiet -p journal --bench hot_paths -- --warm-up-time 1 --measurement-time 2 2>/dev/null |
    awk '/^[a-z_]+\/[a-z_0-9]+/ { name = $1 }
         /time:/ && !/%/ { sub(/.*time: +/, ""); print "  " name ": " $0 }'
