"""Model complexity as the paper reports it: parameters, mult-adds (Tables 2-14), and measured CPU latency.

Works on any `nn.Module` whose eval-mode `forward(example_input)` runs on a batch tensor (suite backbones, task
models, torchvision detection models). Mult-adds come from `torch.utils.flop_counter.FlopCounterMode`, which counts
the FLOPs of convolutions and matrix products (a multiply-add is 2 FLOPs, so mult-adds = FLOPs / 2); like the
paper, it ignores BatchNorm, activations, pooling and additions. For a torchvision detector the count is at the
resolution its own transform resizes to, not necessarily the input's, and covers the ops the detector runs on
that input.

Parameters: `count_params` counts every parameter, BatchNorm's gamma/beta and biases included: the number a user
stores and trains, and the one `results.json` reports. The paper's tables count convolution and FC weights only;
`params_by_layer_type` separates them (BatchNorm falls in "Other"), which is how the tests compare with the paper.
For MobileNetV1 at alpha 1.0 with a 1000-class classifier: 4,231,976 parameters in all, of which 4,209,088 are
conv/FC weights, 1,000 the FC bias and 21,888 BatchNorm's.
"""
from __future__ import annotations

import copy
import platform
import statistics
import time
import contextlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# Table 2's row names; other layers get analogous names ("Conv DW 5x5", "Conv 7x7", "Conv grouped 3x3") or "Other".
CONV_1X1 = "Conv 1x1"
CONV_DW_3X3 = "Conv DW 3x3"
CONV_3X3 = "Conv 3x3"
FULLY_CONNECTED = "Fully Connected"
OTHER = "Other"


def layer_type(module: nn.Module) -> str:
    """Table 2's category of one layer: "Conv 1x1", "Conv DW 3x3", "Conv 3x3" (full), "Fully Connected", ...

    A convolution is depthwise ("DW") when it has one group per input channel and "grouped" for other group
    counts. A module that is neither a convolution nor a linear layer is "Other".
    """
    if isinstance(module, nn.modules.conv._ConvNd):
        kind = "ConvTranspose" if module.transposed else "Conv"
        kernel = "x".join(str(k) for k in module.kernel_size)
        if module.groups > 1 and module.groups == module.in_channels:
            return f"{kind} DW {kernel}"
        if module.groups > 1:
            return f"{kind} grouped {kernel}"
        return f"{kind} {kernel}"
    if isinstance(module, nn.Linear):
        return FULLY_CONNECTED
    return OTHER


def count_params(module: nn.Module) -> int:
    """All parameters of `module` (a shared one once), BatchNorm and biases included; see the module docstring."""
    return sum(p.numel() for p in module.parameters())


def params_by_layer_type(module: nn.Module, biases: bool = True) -> dict[str, int]:
    """Parameters per `layer_type`; "Other" holds those of every other module (BatchNorm, ...).

    `biases=False` leaves the biases of convolutions and linear layers out, as the paper's Table 2 does (its FC
    share, 24.33%, is of weights only). With `biases=True` the values sum to `count_params(module)`.
    """
    counts: dict[str, int] = {}
    seen: set[int] = set()
    for sub in module.modules():
        kind = layer_type(sub)
        for name, param in sub.named_parameters(recurse=False):
            if id(param) in seen or (not biases and kind != OTHER and name == "bias"):
                continue
            seen.add(id(param))
            counts[kind] = counts.get(kind, 0) + param.numel()
    return counts


@contextmanager
def _inference(module: nn.Module) -> Iterator[None]:
    """eval() and no_grad() for the block, then every submodule's own training flag back as it was."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, training in flags:
            m.training = training


def _on_module_device(module: nn.Module, example_input: torch.Tensor) -> torch.Tensor:
    param = next(module.parameters(), None)
    return example_input if param is None else example_input.to(param.device)


def _count_flops(module: nn.Module, example_input: torch.Tensor) -> FlopCounterMode:
    counter = FlopCounterMode(display=False)
    with _inference(module), counter:
        module(_on_module_device(module, example_input))
    return counter


def count_mult_adds(module: nn.Module, example_input: torch.Tensor) -> int:
    """Mult-adds of one eval-mode forward of `example_input` (for the whole batch: pass batch 1 for per-image)."""
    return _count_flops(module, example_input).get_total_flops() // 2


def mult_adds_by_layer_type(module: nn.Module, example_input: torch.Tensor) -> dict[str, int]:
    """Mult-adds per `layer_type` (Table 2), from FlopCounterMode's per-module counts of the leaf layers.

    Whatever is not done inside a convolution or linear layer (e.g. a functional matmul) is "Other", so the values
    sum to `count_mult_adds(module, example_input)`.
    """
    counter = _count_flops(module, example_input)
    per_module = counter.get_flop_counts()  # "<RootClass>.<qualified name>" -> {op: flops}, parents include children
    root = type(module).__name__
    counts: dict[str, int] = {}
    for name, sub in module.named_modules():
        kind = layer_type(sub)
        if kind == OTHER or next(sub.children(), None) is not None:
            continue
        flops = sum(per_module.get(f"{root}.{name}" if name else root, {}).values())
        if flops:
            counts[kind] = counts.get(kind, 0) + flops // 2
    other = counter.get_total_flops() // 2 - sum(counts.values())
    if other:
        counts[OTHER] = other
    return counts


def _forward_seconds(module, batch: torch.Tensor, warmup: int, repeats: int) -> list[float]:
    """Wall times of `repeats` forwards of `batch` on the CPU, after `warmup` untimed ones. `module`: an
    nn.Module (run in eval mode, without autograd; one on another device is timed on a CPU copy, the module itself
    is left where it is) or any callable on a CPU tensor (an exported model's runtime session)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    batch = batch.cpu()
    if isinstance(module, nn.Module):
        on_cpu = all(t.device.type == "cpu" for t in [*module.parameters(), *module.buffers()])
        model = module if on_cpu else copy.deepcopy(module).cpu()
        context = _inference(model)
    else:
        model, context = module, contextlib.nullcontext()
    times: list[float] = []
    with context:
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(batch)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return times


def measure_latency_ms(module, example_input: torch.Tensor, warmup: int = 3, repeats: int = 20) -> float:
    """Median wall time in ms of one eval-mode forward of the first image of `example_input`, on the CPU.

    The figure depends on the machine and on `torch.get_num_threads()`; report them with it.
    """
    return statistics.median(_forward_seconds(module, example_input[:1], warmup, repeats)) * 1000.0


def measure_throughput(module, batch: torch.Tensor, warmup: int = 1, repeats: int = 3) -> float:
    """Images per second of eval-mode forwards of the whole `batch` on the CPU (median of `repeats` timed passes).

    The batch-32 figure of the comparison report: what a server running the model on a CPU sustains, where
    batch-1 latency is what one request waits.
    """
    return len(batch) / statistics.median(_forward_seconds(module, batch, warmup, repeats))


def cpu_model() -> str:
    """The CPU's model name as lscpu reports it (from /proc/cpuinfo), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
