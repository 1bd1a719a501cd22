#!/usr/bin/env python3
"""Totals a Chrome trace from `normtrain_profile --trace` per operator.

Usage: bench/trace_summary.py TRACE.json STEPS [TOP]

Prints, per operator name, the number of calls per step and the milliseconds per step spent in
it, including the operators it calls (so nested ones overlap: aten::conv2d contains
aten::mkldnn_convolution). Sorted by time, the TOP (30) largest.
"""
import json
import sys
from collections import defaultdict


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    path, steps = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) == 4 else 30
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    total_us = defaultdict(float)
    calls = defaultdict(int)
    for event in events:
        if event.get("ph") == "X":
            total_us[event["name"]] += float(event.get("dur", 0))
            calls[event["name"]] += 1
    print(f"{'operator':<56} {'calls/step':>10} {'ms/step':>8}")
    for name in sorted(total_us, key=total_us.get, reverse=True)[:top]:
        print(f"{name[:56]:<56} {calls[name] / steps:>10.1f} {total_us[name] / 1000 / steps:>8.3f}")


if __name__ == "__main__":
    main()
