#!/usr/bin/env python3
"""Make the small MNIST subset in data/mnist-tiny/ from the full MNIST files.

The unit tests and the CI smoke run need real MNIST images, but the full set
(about 11 MB compressed) must never be committed. This script takes, from each
split, the FIRST k examples of each digit 0-9 in original file order, keeps
them in their original relative order, and writes them as standard IDX files
(same magic and header layout, count updated), gzip'ed with mtime=0 so the
output is byte-reproducible.

Usage: python3 scripts/make_tiny_mnist.py [--source DIR] [--dest DIR]
                                          [--train-per-class K] [--test-per-class K]
"""

import argparse
import gzip
import hashlib
import io
import struct
import sys
import zlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
SPLITS = {"train": "train", "test": "t10k"}  # split name -> file prefix


class DataError(Exception):
    pass


def read_idx(source: Path, name: str) -> bytes:
    """Return the decompressed bytes of `name` (raw) or `name.gz` in source."""
    for path in (source / name, source / f"{name}.gz"):
        if path.is_file():
            try:
                data = path.read_bytes()
                return gzip.decompress(data) if path.suffix == ".gz" else data
            except (OSError, EOFError, zlib.error) as e:
                raise DataError(f"cannot read {path}: {e}") from e
    raise DataError(f"missing source file: {source / name} (or {name}.gz)")


def parse(data: bytes, name: str, magic: int):
    """Return (count, header dims after count, record size, payload) of an IDX file."""
    ndims = 3 if magic == IMAGES_MAGIC else 1
    header_len = 4 * (1 + ndims)
    if len(data) < header_len:
        raise DataError(f"{name}: too short for an IDX header")
    got_magic, count, *dims = struct.unpack(f">{1 + ndims}i", data[:header_len])
    if got_magic != magic:
        raise DataError(f"{name}: magic {got_magic}, expected {magic}")
    size = 1
    for d in dims:
        size *= d
    payload = data[header_len:]
    if len(payload) != count * size:
        raise DataError(f"{name}: {len(payload)} data bytes, expected {count * size}")
    return count, dims, size, payload


def subset(source: Path, prefix: str, per_class: int):
    """Return (images IDX bytes, labels IDX bytes, per-digit counts) for one split."""
    img_name, lbl_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    n_img, dims, size, pixels = parse(read_idx(source, img_name), img_name, IMAGES_MAGIC)
    n_lbl, _, _, labels = parse(read_idx(source, lbl_name), lbl_name, LABELS_MAGIC)
    if n_img != n_lbl:
        raise DataError(f"{img_name}: {n_img} images but {lbl_name} has {n_lbl} labels")

    counts = [0] * 10
    chosen = []
    for i, label in enumerate(labels):
        if label > 9:
            raise DataError(f"{lbl_name}: label {label} at index {i} is not a digit")
        if counts[label] < per_class:
            counts[label] += 1
            chosen.append(i)
            if len(chosen) == 10 * per_class:
                break
    short = [d for d in range(10) if counts[d] < per_class]
    if short:
        raise DataError(f"{lbl_name}: fewer than {per_class} examples of digit(s) "
                        + ", ".join(f"{d} ({counts[d]})" for d in short))

    n = len(chosen)
    images = struct.pack(">4i", IMAGES_MAGIC, n, *dims) + b"".join(
        pixels[i * size:(i + 1) * size] for i in chosen)
    label_file = struct.pack(">2i", LABELS_MAGIC, n) + bytes(labels[i] for i in chosen)
    return images, label_file, counts


def write_gz(path: Path, data: bytes) -> None:
    """gzip with mtime=0 and no file name in the header, so output is reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(data)
    path.write_bytes(buf.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=REPO_ROOT / ".." / "shared" / "data" / "mnist",
                    help="folder with the full MNIST IDX files, raw or .gz (default: %(default)s)")
    ap.add_argument("--dest", type=Path, default=REPO_ROOT / "data" / "mnist-tiny",
                    help="output folder (default: %(default)s)")
    ap.add_argument("--train-per-class", type=int, default=200, metavar="K")
    ap.add_argument("--test-per-class", type=int, default=50, metavar="K")
    args = ap.parse_args()

    per_class = {"train": args.train_per_class, "test": args.test_per_class}
    if min(per_class.values()) < 1:
        ap.error("per-class counts must be at least 1")

    try:
        outputs = []
        for split, prefix in SPLITS.items():
            images, labels, counts = subset(args.source, prefix, per_class[split])
            print(f"{split}: {sum(counts)} examples, per digit 0-9: {counts}")
            outputs += [(f"{prefix}-images-idx3-ubyte", images),
                        (f"{prefix}-labels-idx1-ubyte", labels)]
    except DataError as e:
        print(f"make_tiny_mnist: error: {e}", file=sys.stderr)
        return 1

    args.dest.mkdir(parents=True, exist_ok=True)
    for name, data in outputs:
        write_gz(args.dest / f"{name}.gz", data)
        print(f"{hashlib.sha256(data).hexdigest()}  {name} ({len(data)} bytes, decompressed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
