#!/usr/bin/python3
"""The Python PyTorch reference that normtrain's speed benchmark compares against.

This is the study's recipe written the ordinary way, as the notebook normtrain replaces did it:
torchvision's MNIST data set, per-image RandomRotation(+-7 degrees) through PIL, and a DataLoader
(batch 128, shuffled, no worker processes). It trains the same 9,752-parameter network as
normtrain (see README.md, "The experiment") with the same optimiser and loss, so that
scripts/bench.sh can compare training throughput (images per second) of the two on the same
machine, with the same LibTorch and the same number of threads.

Run it with Debian's interpreter, /usr/bin/python3 (python3-torch and python3-torchvision); it
never downloads anything. --data-dir holds the four MNIST IDX files, raw or .gz; they are laid
out (symlinked or decompressed) in a temporary folder in the root/MNIST/raw form torchvision
expects.

At the end it prints one machine-readable line:

    RESULT images=N train_seconds=S images_per_second=R

where train_seconds is the wall time of the training passes alone (data loading and
augmentation included, test passes excluded), like train_seconds in normtrain's metrics.csv.
"""

import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MEAN, STD = 0.1307, 0.3081
MAX_ROTATION_DEGREES = 7.0


def make_norm(norm, groups, channels):
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "ln":
        return nn.GroupNorm(1, channels)  # one group: statistics over C x H x W per example
    return nn.GroupNorm(groups, channels)


def block(in_channels, out_channels, norm, groups, dropout):
    return [
        nn.Conv2d(in_channels, out_channels, 3, bias=False),
        nn.ReLU(),
        make_norm(norm, groups, out_channels),
        nn.Dropout(dropout),
    ]


class NormNet(nn.Module):
    """normtrain's network: 9,752 parameters for every norm."""

    def __init__(self, norm="bn", groups=8, dropout=0.0):
        super().__init__()
        self.layers = nn.Sequential(
            *block(1, 8, norm, groups, dropout),  # 8 x 26 x 26
            *block(8, 24, norm, groups, dropout),  # 24 x 24 x 24
            nn.Conv2d(24, 18, 1, bias=False),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 18 x 12 x 12
            *block(18, 16, norm, groups, dropout),  # 16 x 10 x 10
            *block(16, 16, norm, groups, dropout),  # 16 x 8 x 8
            *block(16, 16, norm, groups, dropout),  # 16 x 6 x 6
            nn.AvgPool2d(6),  # 16 x 1 x 1
            nn.Conv2d(16, 10, 1, bias=False),
            nn.Flatten(),
        )

    def forward(self, x):
        return F.log_softmax(self.layers(x), dim=1)


def torchvision_root(data_dir, scratch):
    """Builds scratch/MNIST/raw/<the four raw IDX files> from data_dir; returns scratch."""
    raw = os.path.join(scratch, "MNIST", "raw")
    os.makedirs(raw)
    for name in MNIST_FILES:
        plain = os.path.join(data_dir, name)
        packed = plain + ".gz"
        target = os.path.join(raw, name)
        if os.path.isfile(plain):
            os.symlink(os.path.abspath(plain), target)
        elif os.path.isfile(packed):
            with gzip.open(packed, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            sys.exit(f"reference_train.py: MNIST file {name} (or {name}.gz) not found in {data_dir}")
    return scratch


def l1_norm(model):
    return sum(p.abs().sum() for p in model.parameters())


def train_epoch(model, loader, optimizer, l1, max_batches):
    """One training pass; returns (images, seconds, mean loss, accuracy %)."""
    model.train()
    start = time.perf_counter()
    images = correct = 0
    loss_sum = 0.0
    for batch, (inputs, targets) in enumerate(loader):
        if max_batches and batch >= max_batches:
            break
        optimizer.zero_grad()
        log_probs = model(inputs)
        loss = F.nll_loss(log_probs, targets)
        if l1 > 0:
            loss = loss + l1 * l1_norm(model)
        loss.backward()
        optimizer.step()
        n = targets.size(0)
        images += n
        loss_sum += loss.item() * n
        correct += (log_probs.argmax(1) == targets).sum().item()
    seconds = time.perf_counter() - start
    return images, seconds, loss_sum / max(images, 1), 100.0 * correct / max(images, 1)


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    with torch.no_grad():
        for inputs, targets in loader:
            log_probs = model(inputs)
            loss_sum += F.nll_loss(log_probs, targets, reduction="sum").item()
            correct += (log_probs.argmax(1) == targets).sum().item()
            total += targets.size(0)
    return loss_sum / max(total, 1), 100.0 * correct / max(total, 1)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--norm", choices=("bn", "ln", "gn"), default="bn")
    p.add_argument("--groups", type=int, default=8, help="GroupNorm groups (only with --norm gn)")
    p.add_argument("--l1", type=float, default=0.0, help="L1 penalty weight; 0 disables it")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = leave as is")
    p.add_argument("--data-dir", default="data/mnist", help="the four MNIST IDX files, raw or .gz")
    p.add_argument("--limit-train", type=int, default=0, help="use the first N training images")
    p.add_argument("--limit-test", type=int, default=0, help="use the first N test images")
    p.add_argument("--max-batches", type=int, default=0, help="stop each epoch after N batches")
    p.add_argument("--no-test", action="store_true", help="skip the test pass (benchmarks)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.norm == "gn" and (args.groups < 1 or any(c % args.groups for c in (8, 24, 16))):
        p.error("--groups must divide 8, 24 and 16 (1, 2, 4 or 8)")
    return args


def main(argv=None):
    # Imported here: the network and constants above serve scripts on machines without
    # torchvision (expert_train.py, gpu_probe.py).
    from torchvision import datasets, transforms

    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_transform = transforms.Compose([
        transforms.RandomRotation((-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES), fill=(0,)),
        transforms.ToTensor(),
        transforms.Normalize((MEAN,), (STD,)),
    ])
    test_transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])

    with tempfile.TemporaryDirectory(prefix="reference_train.") as scratch:
        root = torchvision_root(args.data_dir, scratch)
        train_set = datasets.MNIST(root, train=True, download=False, transform=train_transform)
        test_set = datasets.MNIST(root, train=False, download=False, transform=test_transform)
    if args.limit_train:
        train_set = Subset(train_set, range(min(args.limit_train, len(train_set))))
    if args.limit_test:
        test_set = Subset(test_set, range(min(args.limit_test, len(test_set))))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=0)
    test_loader = DataLoader(test_set, batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = NormNet(args.norm, args.groups)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    print(f"reference: norm={args.norm} groups={args.groups} l1={args.l1} "
          f"parameters={sum(p.numel() for p in model.parameters())} threads={torch.get_num_threads()} "
          f"train={len(train_set)} test={len(test_set)} torch={torch.__version__}", flush=True)

    total_images, total_seconds = 0, 0.0
    for epoch in range(1, args.epochs + 1):
        images, seconds, loss, acc = train_epoch(model, train_loader, optimizer, args.l1, args.max_batches)
        total_images += images
        total_seconds += seconds
        line = (f"epoch {epoch}: train loss {loss:.4f} acc {acc:.2f}% "
                f"{images} images in {seconds:.3f}s ({images / seconds:.1f}/s)")
        if not args.no_test:
            test_loss, test_acc = evaluate(model, test_loader)
            line += f"; test loss {test_loss:.4f} acc {test_acc:.2f}%"
        print(line, flush=True)

    rate = total_images / total_seconds if total_seconds > 0 else 0.0
    print(f"RESULT images={total_images} train_seconds={total_seconds:.3f} images_per_second={rate:.1f}")


if __name__ == "__main__":
    main()
