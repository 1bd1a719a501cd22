#!/usr/bin/python3
"""The Markdown table of scripts/bench.sh's runs, and README's copies of such tables.

    bench_table.py table RUNS.tsv     prints the table: per norm and batch size, the median
                                      images/s of each peer, and normtrain's ratio to the
                                      fastest expert and seed-loop variant (by its median): in
                                      each repetition normtrain's rate over that variant's in
                                      the same repetition, the median of those ratios
    bench_table.py runs RUNS.tsv      prints every run's images/s, in the order they ran
    bench_table.py readme FILE.md     in FILE.md, replaces whatever lies between
                                      <!-- bench-table: REPORT.md --> and <!-- /bench-table -->
                                      with the part of REPORT.md (a path relative to FILE.md)
                                      between <!-- table --> and <!-- /table -->

RUNS.tsv has a header and one row per run: kind (normtrain, expert or seed), peer (its label),
norm, batch, rep, images_per_second, loss. A run whose loss is not finite learned nothing: its
cell says so, and it takes no part in the ratios.

Why ratios within a repetition: the machines this runs on drift in speed by tens of percent over
minutes (normtrain's own rate over seven repetitions of one cell spread from 3,348 to 5,217
images/s). The runs of one repetition ran close together in time, so their ratio cancels most of
the drift; a ratio of two medians would compare runs from different moments.
"""

import csv
import math
import os
import re
import statistics
import sys

RATIO_OF = "normtrain --kernels fused"  # the peer whose ratios the table shows


def read_runs(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def cells(runs):
    """{(norm, batch): {peer: [(images/s, loss), ...]}} and the peers in order of appearance."""
    table, peers, kinds = {}, [], {}
    for run in runs:
        peer = run["peer"]
        if peer not in kinds:
            peers.append(peer)
            kinds[peer] = run["kind"]
        key = (run["norm"], int(run["batch"]))
        table.setdefault(key, {}).setdefault(peer, []).append(
            (float(run["images_per_second"]), float(run["loss"])))
    return table, peers, kinds


def rates_by_rep(runs):
    """{(norm, batch): {peer: {rep: images/s}}}."""
    table = {}
    for run in runs:
        key = (run["norm"], int(run["batch"]))
        table.setdefault(key, {}).setdefault(run["peer"], {})[run["rep"]] = float(
            run["images_per_second"])
    return table


def paired_ratio(mine, theirs):
    """The median over repetitions of mine[rep] / theirs[rep], over the repetitions that have
    both; None when there is none."""
    ratios = [mine[rep] / theirs[rep] for rep in mine if rep in theirs]
    return statistics.median(ratios) if ratios else None


def median_rate(samples):
    """The median images/s, or None when any run's loss was not finite."""
    if not samples or any(not math.isfinite(loss) for _, loss in samples):
        return None
    return statistics.median(rate for rate, _ in samples)


def table(runs):
    grid, peers, kinds = cells(runs)
    by_rep = rates_by_rep(runs)
    header = ["Norm", "Batch"] + peers + [f"fused ÷ best {k}" for k in ("expert", "seed")]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for (norm, batch), row in grid.items():
        medians = {peer: median_rate(row.get(peer, [])) for peer in peers}
        text = []
        for peer in peers:
            if peer not in row:
                text.append("-")
            elif medians[peer] is None:
                text.append("loss not finite")
            else:
                text.append(f"{medians[peer]:.0f}")
        for kind in ("expert", "seed"):
            # The fastest variant by its median, of those whose loss stayed finite in every run.
            finite = [p for p, m in medians.items() if kinds[p] == kind and m is not None]
            best = max(finite, key=lambda p: medians[p]) if finite else None
            rates = by_rep[(norm, batch)]
            ratio = (paired_ratio(rates[RATIO_OF], rates[best])
                     if best and medians.get(RATIO_OF) else None)
            text.append(f"**{ratio:.2f}×**" if ratio else "-")
        lines.append(f"| {norm} | {batch} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def every_run(runs):
    grid, peers, _ = cells(runs)
    lines = []
    for (norm, batch), row in grid.items():
        parts = [f"{peer} " + ", ".join(f"{rate:.0f}" + ("" if math.isfinite(loss) else " (loss not finite)")
                                        for rate, loss in row[peer])
                 for peer in peers if peer in row]
        lines.append(f"- {norm}, batch {batch}: " + "; ".join(parts))
    return "\n".join(lines)


BLOCK = re.compile(r"(<!-- bench-table: (\S+) -->\n).*?(<!-- /bench-table -->)", re.S)
PART = re.compile(r"<!-- table -->\n(.*?)<!-- /table -->", re.S)


def readme(path):
    folder = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        text = f.read()

    def replace(block):
        report = os.path.join(folder, block.group(2))
        with open(report) as f:
            part = PART.search(f.read())
        if not part:
            sys.exit(f"bench_table.py: {report} has no <!-- table --> ... <!-- /table --> part")
        return block.group(1) + part.group(1) + block.group(3)

    new_text, count = BLOCK.subn(replace, text)
    if count == 0:
        sys.exit(f"bench_table.py: {path} has no <!-- bench-table: REPORT.md --> block")
    with open(path, "w") as f:
        f.write(new_text)


def main(argv):
    commands = {"table": lambda p: print(table(read_runs(p))),
                "runs": lambda p: print(every_run(read_runs(p))),
                "readme": readme}
    if len(argv) != 3 or argv[1] not in commands:
        sys.exit(__doc__)
    commands[argv[1]](argv[2])


if __name__ == "__main__":
    main(sys.argv)
