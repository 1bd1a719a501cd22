#!/usr/bin/python3
"""The README's CUDA numbers, read from the committed reports of scripts/gpu-check.sh.

    gpu_table.py table           prints the table: per variant, the 20-epoch wall time of each
                                 GPU call in COLUMNS, then where the last call's BN + L1 run spent
                                 its time (its timeline) and what PyTorch's own graphed step
                                 costs (bench/gpu_probe.py's lines)
    gpu_table.py readme FILE.md  in FILE.md, replaces whatever lies between <!-- gpu-table -->
                                 and <!-- /gpu-table --> with that

Nothing is typed by hand: a report that lacks a number makes the script fail, naming it.
"""

import os
import re
import sys

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs")

# (heading, report in docs/, suffix of the run's name in that report's variants table)
COLUMNS = [
    ("first graphs", "gpu-check-h200.md", ""),
    ("without graphs", "gpu-check-h200.md", "-eager"),
    ("diagnostics graphed", "gpu-check-h200-diagnostics-graph.md", ""),
    ("test pass graphed", "gpu-check-h200-test-pass-graph.md", ""),
    ("BN channels-last", "gpu-check-h200-bn-channels-last.md", ""),
]
VARIANTS = [("BN + L1 0.01", "bn-l1-0.01"), ("LN", "ln"), ("GN (8 groups)", "gn-8")]
PROBE_REPORT = "gpu-check-h200-test-pass-graph.md"


def fail(message):
    sys.exit(f"gpu_table.py: {message}")


def read(report):
    path = os.path.join(DOCS, report)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")


def variant_rows(text):
    """The variants table's rows by run name: {name: {column heading: cell}}."""
    rows, header = {}, None
    for line in text.splitlines():
        if line.startswith("| variant |"):
            header = [cell.strip() for cell in line.strip("|").split("|")]
        elif header and line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if len(cells) == len(header):
                rows[cells[0]] = dict(zip(header, cells))
        elif header and not line.strip():
            header = None
    return rows


def cell(report, run, column):
    rows = variant_rows(read(report))
    if run not in rows or column not in rows[run]:
        fail(f"docs/{report} has no {column!r} for the run {run}")
    return rows[run][column]


def timeline(report, run):
    """(seconds, message) of each line of RUN's timeline in the report."""
    text = read(report)
    match = re.search(rf"^{re.escape(run)}:\n\n```\n(.*?)```", text, re.M | re.S)
    if not match:
        fail(f"docs/{report} has no timeline for {run}")
    lines = []
    for line in match.group(1).splitlines():
        parts = re.match(r"\s*([0-9.]+) s  (.*)", line)
        if parts:
            lines.append((float(parts.group(1)), parts.group(2)))
    return lines


def when(lines, pattern, report):
    for seconds, message in lines:
        if re.search(pattern, message):
            return seconds
    fail(f"docs/{report}: no timeline line matches {pattern!r}")


def probe_ms(report, norm, layout):
    match = re.search(rf"^PROBE norm={norm} \S+ benchmark=0 layout={layout} tf32=1 "
                      r"graphed_ms=([0-9.]+)", read(report), re.M)
    if not match:
        fail(f"docs/{report} has no probe line for {norm} {layout}")
    return float(match.group(1))


def kernels(report):
    """(kernels, kernel ms) per step of the probe's default LN configuration."""
    match = re.search(r"^KERNELS default .*?: (\d+) kernels, ([0-9.]+) ms of kernel time per step",
                      read(report), re.M)
    if not match:
        fail(f"docs/{report} has no kernel table of the probe's default configuration")
    return int(match.group(1)), float(match.group(2))


def table():
    out = ["| variant | " + " | ".join(f"{heading} ([report](docs/{report}))"
                                       for heading, report, _ in COLUMNS) + " |",
           "|---|" + "---:|" * len(COLUMNS)]
    for label, run in VARIANTS:
        walls = [cell(report, run + suffix, "wall s") for _, report, suffix in COLUMNS]
        cells = [f"{wall} s" for wall in walls]
        cells[-1] = f"**{cells[-1]}**"
        out.append(f"| {label} | " + " | ".join(cells) + " |")

    last = COLUMNS[-1][1]
    lines = timeline(last, "bn-l1-0.01")
    data = when(lines, r"training and \d+ test images", last)
    graphs = when(lines, r"CUDA graphs:", last)
    first = when(lines, r"epoch +1/", last)
    final = when(lines, r"best test accuracy", last)
    exit_at = lines[-1][0]
    epochs = [seconds for seconds, message in lines if re.search(r"epoch +\d+/", message)]
    later = [b - a for a, b in zip(epochs, epochs[1:])]
    step_ms = 1000 * float(cell(last, "bn-l1-0.01", "median epoch s")) / 469
    out += ["", f"Where the last call's BN + L1 run spent its {exit_at:.1f} s (its timeline in "
            f"the report): {data:.2f} s until the data was on the GPU, {graphs - data:.2f} s "
            f"building the model and trainer, {first - graphs:.2f} s for epoch 1, "
            f"{min(later):.2f}-{max(later):.2f} s for each later epoch (training "
            f"{cell(last, 'bn-l1-0.01', 'median epoch s')} s, the median: 469 replayed steps of "
            f"{step_ms:.2f} ms), {final - epochs[-1]:.2f} s for the last files and "
            f"{exit_at - final:.2f} s from the last line to exit. PyTorch's own graphed step of "
            f"the same network (bench/gpu_probe.py, same machine): "
            f"{probe_ms(PROBE_REPORT, 'ln', 'nchw'):.2f} ms for LN ({kernels(PROBE_REPORT)[0]} "
            f"kernels keeping the GPU busy {kernels(PROBE_REPORT)[1]:.2f} ms), "
            f"{probe_ms(PROBE_REPORT, 'gn', 'nchw'):.2f} ms for GN, "
            f"{probe_ms(PROBE_REPORT, 'bn', 'nchw'):.2f} ms (NCHW) or "
            f"{probe_ms(PROBE_REPORT, 'bn', 'cl'):.2f} ms (channels-last) for BN + L1."]
    return "\n".join(out) + "\n"


def readme(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin, end = "<!-- gpu-table -->\n", "<!-- /gpu-table -->"
    if begin not in text or end not in text:
        fail(f"{path} lacks the {begin.strip()} and {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + begin + table() + end + tail)


def main(argv):
    if len(argv) == 2 and argv[1] == "table":
        sys.stdout.write(table())
    elif len(argv) == 3 and argv[1] == "readme":
        readme(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
