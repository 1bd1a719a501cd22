#!/usr/bin/python3
"""Where a CUDA-graphed training step of normtrain's network spends its GPU time, and what
PyTorch's settings change: cuDNN's benchmark mode, the channels-last layout, TF32.

The step is the study's (expert_train.py's batch drawing, rotation and SGD; reference_train.py's
network), on random images resident on the GPU: timing does not depend on what the pixels show.
It is captured once with torch.cuda.graph and replayed, as normtrain's --cuda-graphs does, and
also timed eagerly. For scripts/gpu-check.sh; needs a CUDA device. One line per configuration:

    PROBE norm=ln l1=0 benchmark=0 layout=nchw tf32=1 graphed_ms=0.61 eager_ms=2.9 kernels=312

then, for the first configuration and the fastest, the GPU kernels by total time.
"""

import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F

from expert_train import rotate
from reference_train import MEAN, STD, NormNet, l1_norm


def build(norm, l1, layout, batch, device):
    """A model, its optimizer and a step function drawing batches from static index tensors."""
    torch.manual_seed(1)
    model = NormNet(norm, 8).to(device)
    if layout == "cl":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    images = torch.randint(0, 256, (8192, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (8192,), device=device)
    picked = torch.randint(0, 8192, (batch,), device=device)
    angles = (torch.rand(batch, device=device) * 2 - 1) * 7.0

    def step():
        x = images.index_select(0, picked).unsqueeze(1).float().div_(255)
        x = (rotate(x, angles) - MEAN) / STD
        if layout == "cl":
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels.index_select(0, picked)
        log_probs = model(x)
        loss = F.nll_loss(log_probs, y)
        if l1 > 0:
            loss = loss + l1 * l1_norm(model)
        loss.backward()
        optimizer.step()
        return torch.stack((loss.detach(), (log_probs.detach().argmax(1) == y).sum().float()))

    return model, optimizer, picked, angles, step


def seconds_per_call(fn, calls):
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def probe(norm, l1, benchmark, layout, tf32, batch, replays, device):
    torch.backends.cudnn.benchmark = benchmark
    torch.backends.cudnn.allow_tf32 = tf32
    model, optimizer, picked, angles, step = build(norm, l1, layout, batch, device)

    def eager():
        optimizer.zero_grad(set_to_none=True)
        step()

    # Warm-up on a side stream (cuDNN's search, the allocator), as capture wants.
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            eager()
    torch.cuda.current_stream().wait_stream(side)
    eager_s = seconds_per_call(eager, max(20, replays // 10))

    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        step()

    def replay(keep=(model, optimizer, step)):  # the graph reads their tensors: keep them
        picked.random_(0, 8192)
        angles.uniform_(-7.0, 7.0)
        graph.replay()

    replay()
    graphed_s = seconds_per_call(replay, replays)
    return graphed_s, eager_s, replay, eager


def kernel_table(fn, calls, rows):
    """The GPU kernels `calls` calls of fn launch, by total time; and how many per call."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if str(e.device_type).endswith("CUDA")]
    per_kernel = {}
    for e in kernels:
        total, count = per_kernel.get(e.name, (0.0, 0))
        per_kernel[e.name] = (total + (e.time_range.end - e.time_range.start) / 1000.0, count + 1)
    lines = []
    all_ms = sum(t for t, _ in per_kernel.values())
    for name, (total, count) in sorted(per_kernel.items(), key=lambda kv: -kv[1][0])[:rows]:
        lines.append(f"  {total / calls:8.4f} ms/step {count / calls:5.1f}x  {name[:110]}")
    return len(kernels) / calls, all_ms / calls, lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--replays", type=int, default=400)
    p.add_argument("--quick", action="store_true", help="LN only, fewer replays (a rehearsal)")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("gpu_probe.py: no CUDA device")
    device = torch.device("cuda")
    print(f"gpu_probe: torch {torch.__version__}, {torch.cuda.get_device_name()}, "
          f"cuDNN {torch.backends.cudnn.version()}, batch {args.batch_size}", flush=True)
    variants = [("ln", 0.0)] if args.quick else [("bn", 0.01), ("ln", 0.0), ("gn", 0.0)]
    configs = [(b, layout, 1) for b in (0, 1) for layout in ("nchw", "cl")] + [(0, "nchw", 0)]
    results = []
    for norm, l1 in variants:
        for benchmark, layout, tf32 in configs:
            try:
                graphed_s, eager_s, replay, _ = probe(norm, l1, bool(benchmark), layout, bool(tf32),
                                                      args.batch_size, args.replays, device)
            except Exception as error:  # a configuration that cannot run is reported, not fatal
                print(f"PROBE norm={norm} l1={l1:g} benchmark={benchmark} layout={layout} "
                      f"tf32={tf32} error={str(error).splitlines()[0][:200]}", flush=True)
                continue
            results.append((graphed_s, norm, l1, benchmark, layout, tf32, replay))
            print(f"PROBE norm={norm} l1={l1:g} benchmark={benchmark} layout={layout} tf32={tf32} "
                  f"graphed_ms={graphed_s * 1e3:.3f} eager_ms={eager_s * 1e3:.3f}", flush=True)
    shown = set()
    for label, pick in (("default (benchmark=0 nchw tf32=1)", lambda r: r[1] == "ln" and r[3] == 0
                         and r[4] == "nchw" and r[5] == 1), ("fastest LN", None)):
        candidates = [r for r in results if r[1] == "ln" and (pick is None or pick(r))]
        if not candidates:
            continue
        best = min(candidates, key=lambda r: r[0])
        if id(best) in shown:
            continue
        shown.add(id(best))
        torch.backends.cudnn.benchmark = bool(best[3])
        torch.backends.cudnn.allow_tf32 = bool(best[5])
        try:
            per_step, ms, lines = kernel_table(best[6], 20, 25)
        except Exception as error:
            print(f"KERNELS {label}: profiler failed: {str(error).splitlines()[0][:200]}")
            continue
        print(f"KERNELS {label}: norm={best[1]} benchmark={best[3]} layout={best[4]} "
              f"tf32={best[5]}: {per_step:.0f} kernels, {ms:.3f} ms of kernel time per step "
              f"(graphed step {best[0] * 1e3:.3f} ms)")
        print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
