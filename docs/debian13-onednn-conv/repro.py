#!/usr/bin/python3
"""PyTorch-level reproducer: every 3x3 convolution shape of a small grid, forward, input
gradient and weight gradient in float32, against the same convolution in float64 (which
PyTorch never sends to oneDNN). Prints one line per shape and exits 1 if any pass is wrong.

    python3 repro.py [BATCH] [HEIGHT] [nchw|channels_last]
"""
import itertools
import sys

import torch
import torch.nn.functional as F


def wrong_passes(batch, cin, cout, height, channels_last):
    x = torch.randn(batch, cin, height, height)
    w = torch.randn(cout, cin, 3, 3) * 0.3
    grad = torch.randn(batch, cout, height - 2, height - 2)
    if channels_last:
        x, w, grad = (t.contiguous(memory_format=torch.channels_last) for t in (x, w, grad))
    x32, w32 = x.clone().requires_grad_(), w.clone().requires_grad_()
    y32 = F.conv2d(x32, w32)
    y32.backward(grad)
    x64, w64 = x.double().requires_grad_(), w.double().requires_grad_()
    y64 = F.conv2d(x64, w64)
    y64.backward(grad.double())
    wrong = []
    for name, got, want in (("forward", y32.detach(), y64.detach()),
                            ("input-grad", x32.grad, x64.grad),
                            ("weight-grad", w32.grad, w64.grad)):
        if not torch.isfinite(got).all() or (got.double() - want).abs().max() > 1e-3 * want.abs().max():
            wrong.append(name)
    return wrong


def tail_block_experiment():
    """18 -> 16 channels: which input channels carry the error, and zero tail weights."""
    torch.manual_seed(0)
    w = torch.randn(16, 18, 3, 3)
    x = torch.randn(4, 18, 12, 12)

    def image0_error(x, w):
        return (F.conv2d(x, w)[0].double() - F.conv2d(x.double(), w.double())[0]).abs().max().item()

    kept_tail = x.clone()
    kept_tail[0, :14] = 0  # image 0 keeps channels 14-17 only
    no_tail = x.clone()
    no_tail[0, 2:] = 0  # image 0 keeps channels 0-1 only
    zero_tail_weights = w.clone()
    zero_tail_weights[:, 16:] = 0
    print("18->16, image 0 max error: all channels %.3g; channels 14-17 only %.3g; "
          "channels 0-1 only %.3g; weights of channels 16-17 zero %.3g"
          % (image0_error(x, w), image0_error(kept_tail, w), image0_error(no_tail, w),
             image0_error(x, zero_tail_weights)))


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    height = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    channels_last = len(sys.argv) > 3 and sys.argv[3] == "channels_last"
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, oneDNN enabled {torch.backends.mkldnn.enabled}, "
          f"batch {batch}, {height}x{height}, {'channels_last' if channels_last else 'nchw'}")
    bad = 0
    for cin, cout in itertools.product((1, 4, 8, 16, 18, 24, 32), (8, 16, 24)):
        wrong = wrong_passes(batch, cin, cout, height, channels_last)
        bad += bool(wrong)
        print(f"ic {cin:2d} oc {cout:2d}: {' '.join(wrong) if wrong else 'ok'}")
    tail_block_experiment()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
