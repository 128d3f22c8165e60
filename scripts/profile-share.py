#!/usr/bin/env python3
"""Splits a `perf script` dump (call graphs, `--call-graph dwarf`) of a `vopr engine` run by who
spent the time: each sample goes to the crate of the innermost frame that belongs to one of
ours or to the engine. The simulated file's work on an engine's behalf counts as the harness,
a memcpy inside redb as redb. Usage: perf script -i perf.data | scripts/profile-share.py"""
import collections
import re
import sys

OWNERS = [
    ("fault_models::", "harness: simulated file"),
    ("rand_chacha", "harness: simulated file"),
    ("engines::", "harness: runner, model, adapters"),
    ("simulator::", "harness: runner, model, adapters"),
    ("redb::", "engine: redb"),
    ("file_storage::", "engine: file WAL"),
    ("journal::", "engine: file WAL"),
]

counts = collections.Counter()


def owner(frames):
    for frame in frames:
        for prefix, name in OWNERS:
            if re.search(r"(^|[<\s&])" + re.escape(prefix), frame):
                return name
    return "other (allocator, libc, kernel, start-up)"


frames = []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        if frames:
            counts[owner(frames)] += 1
        frames = []
    elif line.startswith("\t") or line.startswith(" "):
        parts = line.strip().split(" ", 1)
        if len(parts) == 2:
            frames.append(parts[1])
if frames:
    counts[owner(frames)] += 1
total = sum(counts.values())
for name, count in counts.most_common():
    print(f"{name:45s} {100 * count / total:5.1f}%")
