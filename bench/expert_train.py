#!/usr/bin/python3
"""The study's recipe as a performance-minded PyTorch user writes it: normtrain's fairest peer.

reference_train.py is the recipe written the ordinary way (torchvision, PIL rotation per image,
a DataLoader). This script keeps the same network (imported from it), optimiser, loss, batch
size and augmentation, and does what someone who cares about speed would do in plain PyTorch:

- the whole split is read once into one uint8 tensor [N, 28, 28]; there is no Dataset and no
  DataLoader, a batch is an index_select;
- each batch is rotated by per-image angles in [-7, +7] degrees with one batched affine_grid +
  grid_sample (nearest-neighbour, zero fill), then scaled and normalized;
- model and inputs are channels-last, the layout in which the CPU convolutions are fastest;
- no host sync per batch (loss and accuracy stay tensors until the epoch ends), and gradients
  are set to None rather than zero-filled.

It prints one line per epoch, read by scripts/bench.sh:

    EPOCH epoch=E images=N seconds=S images_per_second=R loss=L accuracy=A

seconds is the wall time of the training pass (batching and augmentation included).
"""

import argparse
import gzip
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

from reference_train import MAX_ROTATION_DEGREES, MEAN, STD, NormNet, l1_norm


def read_idx(data_dir, name):
    """The IDX file `name` (raw or .gz) in data_dir as a uint8 tensor of its dimensions."""
    path = os.path.join(data_dir, name)
    if os.path.isfile(path):
        with open(path, "rb") as f:
            content = f.read()
    elif os.path.isfile(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            content = f.read()
    else:
        sys.exit(f"expert_train.py: MNIST file {name} (or {name}.gz) not found in {data_dir}")
    dims = content[3]
    shape = struct.unpack(f">{dims}I", content[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(content[4 + 4 * dims:]), dtype=torch.uint8).view(shape)


def rotate(images, degrees):
    """Rotates each image of a float [B, 1, H, W] batch by its own angle, about its centre."""
    radians = degrees * (math.pi / 180.0)
    cos, sin, zero = radians.cos(), radians.sin(), torch.zeros_like(radians)
    theta = torch.stack((torch.stack((cos, -sin, zero), 1), torch.stack((sin, cos, zero), 1)), 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def train_epoch(model, optimizer, images, labels, batch_size, l1, generator):
    """One shuffled, augmented training pass; returns (seconds, mean loss, accuracy %)."""
    model.train()
    start = time.perf_counter()
    n = labels.numel()
    order = torch.randperm(n, generator=generator)
    angles = (torch.rand(n, generator=generator) * 2 - 1) * MAX_ROTATION_DEGREES
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    for first in range(0, n, batch_size):
        picked = order[first:first + batch_size]
        x = images.index_select(0, picked).unsqueeze(1).float().div_(255)
        x = rotate(x, angles[first:first + batch_size])
        x = ((x - MEAN) / STD).contiguous(memory_format=torch.channels_last)
        y = labels.index_select(0, picked)
        log_probs = model(x)
        loss = F.nll_loss(log_probs, y)
        if l1 > 0:
            loss = loss + l1 * l1_norm(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * y.numel()
        correct += (log_probs.detach().argmax(1) == y).sum()
    seconds = time.perf_counter() - start
    return seconds, loss_sum.item() / n, 100.0 * correct.item() / n


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--norm", choices=("bn", "ln", "gn"), default="bn")
    p.add_argument("--groups", type=int, default=8, help="GroupNorm groups (only with --norm gn)")
    p.add_argument("--l1", type=float, default=0.0, help="L1 penalty weight; 0 disables it")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = leave as is")
    p.add_argument("--data-dir", default="data/mnist", help="the four MNIST IDX files, raw or .gz")
    p.add_argument("--limit-train", type=int, default=0, help="use the first N training images")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.norm == "gn" and (args.groups < 1 or any(c % args.groups for c in (8, 24, 16))):
        p.error("--groups must divide 8, 24 and 16 (1, 2, 4 or 8)")
    if args.epochs < 1 or args.batch_size < 1 or args.limit_train < 0:
        p.error("--epochs and --batch-size must be positive, --limit-train not negative")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx(args.data_dir, "train-images-idx3-ubyte")
    labels = read_idx(args.data_dir, "train-labels-idx1-ubyte").long()
    if args.limit_train:
        images, labels = images[:args.limit_train], labels[:args.limit_train]
    model = NormNet(args.norm, args.groups).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    print(f"expert: norm={args.norm} groups={args.groups} l1={args.l1} batch={args.batch_size} "
          f"threads={torch.get_num_threads()} train={labels.numel()} torch={torch.__version__}",
          flush=True)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        seconds, loss, acc = train_epoch(model, optimizer, images, labels, args.batch_size, args.l1,
                                         generator)
        print(f"EPOCH epoch={epoch} images={labels.numel()} seconds={seconds:.4f} "
              f"images_per_second={labels.numel() / seconds:.1f} loss={loss:.6f} accuracy={acc:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
