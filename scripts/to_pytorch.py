#!/usr/bin/env python3
"""Use a model exported by `normtrain export` in PyTorch, without normtrain.

Builds normtrain's network as a plain torch.nn.Module (NormNet below), loads the weights of a
safetensors file written by `normtrain export --format safetensors` into it, tests it on the
MNIST test split and prints its loss and accuracy exactly as `normtrain eval` prints them. A
TorchScript file written by `normtrain export --format torchscript` is loaded with
torch.jit.load and tested the same way. With --onnx it also writes the network as ONNX.

Needs the Python standard library and PyTorch only (ONNX needs the onnx package too).

    python3 scripts/to_pytorch.py MODEL --data-dir DIR [--limit-test N] [--onnx OUT.onnx]

In your own code:

    from to_pytorch import ensure_right_convolutions, load_model
    model, metadata = load_model("gn-8.safetensors")       # a NormNet in eval mode
    ensure_right_convolutions(metadata, "gn-8.safetensors")  # Debian 13: see the README
    images = (pixels / 255.0 - float(metadata["mean"])) / float(metadata["std"])
    log_probabilities = model(images)                     # images: float [B, 1, 28, 28]
"""

import argparse
import gzip
import json
import os
import struct
import sys
import zipfile

import torch
from torch import nn
import torch.nn.functional as F

# What `normtrain export` writes into the metadata of every file.
NETWORK_NAME = "normtrain-mnist-cnn"
# The metadata this script reads.
REQUIRED_METADATA = ("norm", "mean", "std", "epochs", "variant_label", "dataset_title")
# The TorchScript archive's extra file that holds the same metadata, as JSON.
TORCHSCRIPT_METADATA = "normtrain.json"
# normtrain eval tests in batches of this many images (kEvalBatchSize in trainer.hpp).
EVAL_BATCH_SIZE = 128

SAFETENSORS_DTYPES = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
}


class ExportError(Exception):
    """A file or folder that cannot be used; the message names it and says what to do."""


# --- The network ---------------------------------------------------------------------------


class BatchRenorm2d(nn.BatchNorm2d):
    """Batch renormalization (Ioffe, 2017) with BatchNorm2d's parameters and buffers.

    In evaluation it is BatchNorm2d with its moving averages. In training,
    y = weight * ((x - mu_B) / sigma_B * r + d) + bias with r = clip(sigma_B / sigma, 1/r_max,
    r_max) and d = clip((mu_B - mu) / sigma, -d_max, d_max) held constant in the backward pass;
    the limits rise linearly from 1 and 0 over `warmup` steps (num_batches_tracked), and the
    moving averages are updated as BatchNorm2d's.
    """

    def __init__(self, channels, r_max=3.0, d_max=5.0, warmup=0):
        super().__init__(channels)
        self.r_max, self.d_max, self.warmup = r_max, d_max, warmup

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        progress = 1.0 if self.warmup <= 0 else \
            min(1.0, float(self.num_batches_tracked) / self.warmup)
        r_max = 1.0 + (self.r_max - 1.0) * progress
        d_max = self.d_max * progress
        self.num_batches_tracked += 1
        var, mean = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
        std = torch.sqrt(var + self.eps)
        with torch.no_grad():
            sigma = torch.sqrt(self.running_var + self.eps)
            r = (std / sigma).clamp(1.0 / r_max, r_max)
            d = ((mean - self.running_mean) / sigma).clamp(-d_max, d_max)
            count = x.numel() / x.size(1)
            self.running_mean.mul_(1 - self.momentum).add_(mean, alpha=self.momentum)
            self.running_var.mul_(1 - self.momentum).add_(
                var, alpha=self.momentum * count / (count - 1))
        shape = (1, -1, 1, 1)
        x_hat = (x - mean.view(shape)) / std.view(shape) * r.view(shape) + d.view(shape)
        return self.weight.view(shape) * x_hat + self.bias.view(shape)


class FilterResponseNormTlu2d(nn.Module):
    """Filter response normalization + TLU (Singh & Krishnan, 2020): per example and channel,
    y = weight * x / sqrt(mean over H x W of x^2 + eps) + bias, z = max(y, tau). It is the
    block's activation: a block with it has no ReLU."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.tau = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        shape = (1, -1, 1, 1)
        scale = torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + self.eps) * \
            self.weight.view(shape)
        return torch.maximum(torch.addcmul(self.bias.view(shape), x, scale), self.tau.view(shape))


class RmsNorm2d(nn.Module):
    """RMS normalization per example over C x H x W, no centering, a scale per channel:
    y = weight * x / sqrt(mean of x^2 + eps)."""

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        inv_rms = torch.rsqrt(x.square().mean(dim=(1, 2, 3), keepdim=True) + self.eps)
        return x * (inv_rms * self.weight.view(1, -1, 1, 1))


class StdConv2d(nn.Conv2d):
    """A bias-free convolution whose weight is standardized per output channel over its fan-in
    (weight standardization, Qiao et al. 2019), as timm's StdConv2d: biased variance, eps 1e-6."""

    def __init__(self, in_channels, out_channels, kernel_size, eps=1e-6):
        super().__init__(in_channels, out_channels, kernel_size, bias=False)
        self.eps = eps

    def forward(self, x):
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                              training=True, momentum=0.0, eps=self.eps).reshape_as(self.weight)
        return F.conv2d(x, weight)


def make_norm(norm, groups, channels, brn=None):
    """The norm layer normtrain puts after a block's ReLU (FRN: in its place), or None for
    --norm none. `brn`: (r_max, d_max, warmup) for --norm brn."""
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "ln":  # one group: statistics over C x H x W of each image
        return nn.GroupNorm(1, channels)
    if norm == "gn":
        return nn.GroupNorm(groups, channels)
    if norm == "in":  # one group per channel: statistics over H x W
        return nn.GroupNorm(channels, channels)
    if norm == "brn":
        return BatchRenorm2d(channels, *(brn or ()))
    if norm == "frn":
        return FilterResponseNormTlu2d(channels)
    if norm == "rms":
        return RmsNorm2d(channels)
    if norm == "none":
        return None
    raise ValueError(f"unknown norm {norm!r}")


class Block(nn.Module):
    """Conv 3x3 (no bias; weight-standardized with ws) -> ReLU -> norm -> dropout; with FRN,
    conv -> FRN + TLU -> dropout."""

    def __init__(self, in_channels, out_channels, norm, groups, dropout, ws=False, brn=None):
        super().__init__()
        self.conv = StdConv2d(in_channels, out_channels, 3) if ws else \
            nn.Conv2d(in_channels, out_channels, 3, bias=False)
        self.relu = nn.Identity() if norm == "frn" else nn.ReLU()
        norm_layer = make_norm(norm, groups, out_channels, brn)
        self.norm = nn.Identity() if norm_layer is None else norm_layer
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.norm(self.relu(self.conv(x))))


class NormNet(nn.Module):
    """normtrain's 9,752-parameter MNIST network (README, "The experiment").

    Input: images [B, 1, 28, 28] scaled to [0, 1], then normalized with the data set's mean and
    std; output: log-probabilities [B, 10]. Its state_dict keys are the names `normtrain export`
    writes.
    """

    def __init__(self, norm="bn", groups=8, dropout=0.0, ws=False, brn=None):
        super().__init__()

        def block(in_channels, out_channels):
            return Block(in_channels, out_channels, norm, groups, dropout, ws, brn)

        self.block1 = block(1, 8)  # 8 x 26 x 26
        self.block2 = block(8, 24)  # 24 x 24 x 24
        self.transition = nn.Conv2d(24, 18, 1, bias=False)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)  # 18 x 12 x 12
        self.block3 = block(18, 16)  # 16 x 10 x 10
        self.block4 = block(16, 16)  # 16 x 8 x 8
        self.block5 = block(16, 16)  # 16 x 6 x 6
        self.average = nn.AvgPool2d(6)  # 16 x 1 x 1
        self.classifier = nn.Conv2d(16, 10, 1, bias=False)

    def forward(self, x):
        x = self.block2(self.block1(x))
        x = self.pool(self.relu(self.transition(x)))
        x = self.block5(self.block4(self.block3(x)))
        x = self.classifier(self.average(x))
        return F.log_softmax(torch.flatten(x, 1), dim=1)


def network_from_metadata(metadata, source):
    """An untrained NormNet shaped as the metadata of `source` says."""
    if metadata.get("network") != NETWORK_NAME:
        raise ExportError(f"{source} was not written by normtrain export (no '{NETWORK_NAME}' "
                          "in its metadata)")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ExportError(f"{source}: its metadata lacks {', '.join(missing)}; export it again "
                          "with this normtrain")
    try:
        norm = metadata["norm"]
        groups = int(metadata.get("groups", "8"))
        dropout = float(metadata.get("dropout", "0"))
        ws = metadata.get("weight_standardization", "false") == "true"
        brn = (float(metadata.get("brn_rmax", "3")), float(metadata.get("brn_dmax", "5")),
               int(metadata.get("brn_warmup", "0")))
        return NormNet(norm, groups, dropout, ws, brn)
    except (KeyError, ValueError) as error:
        raise ExportError(f"{source}: its metadata does not describe a network this script "
                          f"knows ({error}); export it again with this normtrain") from error


# --- Files written by normtrain export -----------------------------------------------------


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file, read with the standard library.

    The format: an 8-byte little-endian header length N, N bytes of JSON that give every
    tensor's dtype, shape and data_offsets (into the bytes after the header) and an optional
    "__metadata__" of strings, then the tensors' little-endian bytes.
    """
    if sys.byteorder != "little":
        raise ExportError("safetensors data is little-endian; this reader needs such a machine")
    try:
        with open(path, "rb") as file:
            content = file.read()
    except OSError as error:
        raise ExportError(f"cannot read {path}: {error.strerror}") from error
    if len(content) < 8:
        raise ExportError(f"{path} is not a safetensors file (too short)")
    (header_length,) = struct.unpack("<Q", content[:8])
    if header_length > len(content) - 8:
        raise ExportError(f"{path} is not a safetensors file (its header runs past its end)")
    try:
        header = json.loads(content[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ExportError(f"{path} is not a safetensors file (unreadable header: {error})") \
            from error
    if not isinstance(header, dict):
        raise ExportError(f"{path} is not a safetensors file (its header is not an object)")
    data = memoryview(content)[8 + header_length:]
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict):
        raise ExportError(f"{path} is not a safetensors file (its __metadata__ is not an object)")
    tensors = {}
    for name, info in header.items():
        try:
            dtype = SAFETENSORS_DTYPES[info["dtype"]]
            shape = [int(size) for size in info["shape"]]
            start, end = (int(offset) for offset in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as error:
            raise ExportError(f"{path}: tensor {name} has no readable dtype, shape or offsets "
                              f"({error})") from error
        count = 1
        for size in shape:
            count *= size
        item_size = torch.empty((), dtype=dtype).element_size()
        if min(shape, default=0) < 0 or not 0 <= start <= end <= len(data) or \
                end - start != count * item_size:
            raise ExportError(f"{path}: tensor {name}'s offsets do not fit its shape or the file")
        raw = bytearray(data[start:end])
        tensor = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = tensor.reshape(shape)
    return tensors, metadata


def load_model(path):
    """(model in eval mode, metadata) from a file written by normtrain export.

    A safetensors file gives a NormNet with its weights (state_dict keys checked strictly); a
    TorchScript file gives the scripted module as torch.jit.load returns it.
    """
    if zipfile.is_zipfile(path):  # TorchScript archives are zip files
        extra_files = {TORCHSCRIPT_METADATA: ""}
        try:
            model = torch.jit.load(path, map_location="cpu", _extra_files=extra_files)
            metadata = json.loads(extra_files[TORCHSCRIPT_METADATA] or "{}")
        except (RuntimeError, ValueError) as error:
            raise ExportError(f"{path} is not a TorchScript file of normtrain export "
                              f"({error})") from error
        network_from_metadata(metadata, path)  # checks that it describes normtrain's network
        return model.eval(), metadata
    tensors, metadata = read_safetensors(path)
    model = network_from_metadata(metadata, path)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise ExportError(f"{path} does not fit normtrain's network: {error}") from error
    return model.eval(), metadata


# --- MNIST's IDX files ---------------------------------------------------------------------


def read_idx(data_dir, name, magic, dims):
    """The contents of the IDX file NAME (raw, else NAME.gz) in data_dir as a uint8 tensor."""
    for candidate in (os.path.join(data_dir, name), os.path.join(data_dir, name + ".gz")):
        if os.path.isfile(candidate):
            path = candidate
            break
    else:
        raise ExportError(f"{name} (or {name}.gz) not found in {data_dir}; give --data-dir the "
                          "folder that holds the MNIST files normtrain used")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            content = file.read()
    except (OSError, EOFError) as error:
        raise ExportError(f"cannot read {path}: {error}") from error
    header_size = 4 + 4 * dims
    if len(content) < header_size:
        raise ExportError(f"{path} is not an IDX file (too short)")
    fields = struct.unpack(">" + "I" * (1 + dims), content[:header_size])
    if fields[0] != magic:
        raise ExportError(f"{path} is not an IDX file of this kind (magic {fields[0]:#x}, "
                          f"{magic:#x} expected)")
    shape = list(fields[1:])
    count = 1
    for size in shape:
        count *= size
    if len(content) != header_size + count:
        raise ExportError(f"{path} is truncated or has extra bytes ({len(content)} bytes, "
                          f"{header_size + count} expected)")
    return torch.frombuffer(bytearray(content[header_size:]), dtype=torch.uint8).reshape(shape)


def read_test_split(data_dir, limit):
    images = read_idx(data_dir, "t10k-images-idx3-ubyte", 0x803, 3)
    labels = read_idx(data_dir, "t10k-labels-idx1-ubyte", 0x801, 1).to(torch.int64)
    if images.shape[0] != labels.shape[0]:
        raise ExportError(f"{data_dir}: {images.shape[0]} test images but {labels.shape[0]} "
                          "labels")
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    if labels.shape[0] == 0:
        raise ExportError(f"{data_dir}: the test split holds no images")
    return images, labels


# --- Evaluation, as normtrain eval does it -------------------------------------------------


def evaluate(model, images, labels, mean, std):
    """(mean test loss, correct predictions): normtrain's evaluate(), step for step."""
    outputs = []
    with torch.no_grad():
        for start in range(0, labels.shape[0], EVAL_BATCH_SIZE):
            count = min(EVAL_BATCH_SIZE, labels.shape[0] - start)
            # As normtrain does: a last batch of one goes with the image before it (oneDNN
            # rounds a lone image differently), whose result is dropped.
            extra = 1 if count == 1 and start > 0 else 0
            pixels = images[start - extra:start + count]
            inputs = (pixels.unsqueeze(1).to(torch.float32).div_(255.0) - mean) / std
            outputs.append(model(inputs)[extra:])
        log_probabilities = torch.cat(outputs)
        correct = int(log_probabilities.max(1).indices.eq(labels).sum())
        # Each example's loss added in double, one by one in example order, as normtrain does.
        losses = F.nll_loss(log_probabilities, labels, reduction="none").double().tolist()
    loss_sum = 0.0
    for loss in losses:
        loss_sum += loss
    return loss_sum / labels.shape[0], correct


def eval_line(metadata, loss, correct, total):
    """The line `normtrain eval` prints for the same model and data."""
    epochs = int(metadata["epochs"])
    accuracy = 100.0 * correct / total
    return (f"{metadata['variant_label']} after {epochs} epoch{'' if epochs == 1 else 's'}: "
            f"test loss {loss:.6f}, accuracy {accuracy:.2f}% ({correct} of {total} "
            f"{metadata['dataset_title']} test images)")


# --- Convolutions that can be trusted ------------------------------------------------------


def convolution_faults(network, batch_size):
    """The network's convolutions whose float32 forward pass disagrees with float64 here.

    Runs `network` (a NormNet, for its layers' shapes) on a random batch, feeding each
    convolution's input through it once more in float32 and in float64 (which PyTorch never
    sends to oneDNN). Debian 13's PyTorch 2.6 gets some of this network's NCHW convolutions
    wrong on x86 CPUs; normtrain checks its own convolutions the same way (README, "Debian 13
    and oneDNN").
    """
    faults = []

    def check(conv, inputs):
        x = inputs[0]
        with torch.no_grad():
            got = F.conv2d(x, conv.weight, None, conv.stride, conv.padding, conv.dilation,
                           conv.groups).double()
            want = F.conv2d(x.double(), conv.weight.double(), None, conv.stride, conv.padding,
                            conv.dilation, conv.groups)
        error = float((got - want).abs().max()) if bool(torch.isfinite(got).all()) \
            else float("inf")
        if not error <= 1e-3 * float(want.abs().max()):
            faults.append(f"{conv.in_channels}->{conv.out_channels} {conv.kernel_size[0]}x"
                          f"{conv.kernel_size[1]} on {x.shape[2]}x{x.shape[3]}: off by up to "
                          f"{error:.3g}")

    hooks = [module.register_forward_pre_hook(check) for module in network.modules()
             if isinstance(module, nn.Conv2d)]
    generator = torch.Generator().manual_seed(1)
    try:
        with torch.no_grad():
            network.eval()(torch.randn(batch_size, 1, 28, 28, generator=generator))
    finally:
        for hook in hooks:
            hook.remove()
    return faults


def ensure_right_convolutions(metadata, source):
    """Turns oneDNN off when it computes this network's convolutions wrongly and PyTorch's
    native convolutions are right (saying so on stderr); raises ExportError when neither is."""
    network = network_from_metadata(metadata, source)
    faults = convolution_faults(network, EVAL_BATCH_SIZE)
    if not faults:
        return
    if torch.backends.mkldnn.enabled:
        torch.backends.mkldnn.enabled = False
        if not convolution_faults(network, EVAL_BATCH_SIZE):
            print(f"to_pytorch.py: PyTorch's oneDNN convolutions compute wrong results on this "
                  f"machine ({'; '.join(faults)}); using its native convolutions instead (see "
                  f"\"Debian 13 and oneDNN\" in normtrain's README)", file=sys.stderr)
            return
        torch.backends.mkldnn.enabled = True
    raise ExportError(f"PyTorch computes this network's convolutions wrongly on this machine "
                      f"({'; '.join(faults)}), with oneDNN and without it; use another PyTorch "
                      f"build")


# --- ONNX ----------------------------------------------------------------------------------


def onnx_module():
    try:
        import onnx  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ExportError("--onnx needs the onnx package, which this Python lacks: install it "
                          "(Debian/Ubuntu: apt install python3-onnx; else pip install onnx), "
                          "or leave out --onnx") from error
    return onnx


def write_onnx(model, metadata, path, onnx):
    """The network as ONNX: input "images" [B, 1, 28, 28] (normalized), output
    "log_probabilities" [B, 10]; the metadata goes into the model's metadata_props."""
    if isinstance(model, torch.jit.ScriptModule):
        network = network_from_metadata(metadata, path)
        network.load_state_dict(model.state_dict(), strict=True)
        model = network.eval()
    try:
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, input_names=["images"],
                          output_names=["log_probabilities"],
                          dynamic_axes={"images": {0: "batch"}, "log_probabilities": {0: "batch"}},
                          opset_version=13)
        exported = onnx.load(path)
        for key, value in sorted(metadata.items()):
            exported.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(exported)
        onnx.save(exported, path)
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror}; choose another --onnx") \
            from error


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Load a model written by `normtrain export` (safetensors or TorchScript) "
        "into PyTorch, test it on the MNIST test split and print its loss and accuracy as "
        "`normtrain eval` does.")
    parser.add_argument("model", metavar="MODEL", help="file written by normtrain export")
    parser.add_argument("--data-dir", required=True,
                        help="folder with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
                        "(raw or .gz): the data set the run used")
    parser.add_argument("--limit-test", type=int, default=None, metavar="N",
                        help="test only the first N images (default: the run's own limit)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads; 0 (the default) uses every core, as normtrain does")
    parser.add_argument("--onnx", metavar="OUT.onnx", help="also write the network as ONNX")
    args = parser.parse_args(argv)
    if args.limit_test is not None and args.limit_test < 0:
        parser.error("--limit-test must be 0 (all) or more")
    if args.threads < 0:
        parser.error("--threads must be 0 (every core) or more")

    try:
        onnx = onnx_module() if args.onnx else None  # before the work, not after it
        torch.set_num_threads(args.threads if args.threads > 0 else (os.cpu_count() or 1))
        model, metadata = load_model(args.model)
        ensure_right_convolutions(metadata, args.model)
        limit = args.limit_test if args.limit_test is not None else \
            int(metadata.get("limit_test", "0"))
        images, labels = read_test_split(args.data_dir, limit)
        loss, correct = evaluate(model, images, labels, float(metadata["mean"]),
                                 float(metadata["std"]))
        print(eval_line(metadata, loss, correct, labels.shape[0]), flush=True)
        if onnx is not None:
            write_onnx(model, metadata, args.onnx, onnx)
            print(f"wrote {args.onnx}", file=sys.stderr)
    except ExportError as error:
        print(f"to_pytorch.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
