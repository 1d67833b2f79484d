"""ExecuTorch (.pte): torch.export -> to_edge_transform_and_lower with the XNNPACK partitioner, static shapes (one
file per batch size), metadata in a sidecar JSON; int8 by torchao's pt2e with the XNNPACK quantizer. Run by
ExecuTorch's Python runtime (tasks.core.runtime.ExecuTorchSession).

The batch axis is static (`batch` images per call; the session runs any number in padded chunks). A network whose
height and width vary (`ExportedNetwork.dynamic_axes` holds 2 and 3: Faster R-CNN's features on images of any
size) keeps them dynamic, as multiples of 32 up to twice the larger side of its example (memory is planned for
that bound)."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Sequence

import torch

from ...core.module import ExportedNetwork
from . import pt2e
from .shapes import static_batch
from .sidecar import read_sidecar, write_sidecar

SUFFIX = ".pte"
RUNTIME = "executorch"
RUNTIMES = ("executorch",)
EXTRA = "mobile"
DYNAMIC_BATCH = False  # static shapes: a file per batch size (export.py batch=)
QAT = True  # int8 by quantization-aware fine-tuning too (QuantizeJob.qat_steps)
STRIDE = 32  # a dynamic height or width is a multiple of this (the detectors' transforms pad to it)


class ExecuTorchExportError(ValueError):
    """A network ExecuTorch cannot express (an operator torch.export or the edge dialect rejects)."""


def _missing():
    from ...core.runtime import missing_extra
    return missing_extra("executorch", "executorch", "mobile")


def _dynamic_shapes(network: ExportedNetwork, example: torch.Tensor):
    """None (every axis static) or, for a network on images of any size, height and width as free multiples of
    STRIDE up to twice the example's larger side."""
    if not {2, 3} & set(network.dynamic_axes):
        return None
    most = 2 * max(example.shape[2:]) // STRIDE + 1
    return ({axis: STRIDE * torch.export.Dim(f"{name}_{STRIDE}", min=1, max=most)
             for axis, name in ((2, "height"), (3, "width")) if axis in network.dynamic_axes},)


def _operator(err: BaseException) -> str:
    """The operator an export or lowering error names (or the error's first line)."""
    text = str(err)
    found = re.search(r"(?:aten|torchvision|quantized_decomposed|prims)(?:::|\.)[A-Za-z_][\w.]*", text)
    return found.group(0) if found else (text.strip().splitlines() or [type(err).__name__])[0][:200]


def _contiguous(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of `module` with its weights in the default (NCHW) memory layout: XNNPACK's layout pass rejects
    channels_last weights (the suite trains in channels_last)."""
    return copy.deepcopy(module).eval().to(memory_format=torch.contiguous_format)


def _lower(network: ExportedNetwork, module: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """`module` exported on `example` and lowered to XNNPACK, to `path`."""
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower
    except ImportError:
        raise _missing() from None
    try:
        with torch.no_grad():
            program = torch.export.export(module, (example,), dynamic_shapes=_dynamic_shapes(network, example))
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    except Exception as err:  # noqa: BLE001 - any failure of torch.export or the edge dialect: one line
        raise ExecuTorchExportError(f"format=executorch: network {network.name or 'main'!r} "
                                    f"({type(network.module).__name__}) cannot be exported: {_operator(err)} "
                                    f"({type(err).__name__})") from err
    path.write_bytes(lowered.buffer)


def write(network: ExportedNetwork, example: torch.Tensor, path: Path, batch: int = 1) -> None:
    """`network` exported on `batch` rows of `example` (static shapes but a free height and width where the
    network takes images of any size) and lowered to XNNPACK, to `path`; outputs in the network's order."""
    _lower(network, _contiguous(network.module), static_batch(example, batch), path)


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    write_sidecar(path, metadata)


def read_metadata(path: Path) -> dict[str, str]:
    return read_sidecar(path)


def quantize(jobs: Sequence, keep_float: Sequence[str]) -> list[str]:
    """int8 copies by torchao's pt2e (XNNPACK quantizer: symmetric, per-channel int8 weights, int8 activations
    calibrated on each QuantizeJob's inputs, or fine-tuned with fake quantization where job.qat_steps is set;
    tasks.engine.formats.pt2e), lowered to XNNPACK with float inputs and outputs. `keep_float`: the modules whose
    operators stay float (pt2e.kept_modules); returns their names."""
    pt2e.check_keep_float("executorch", [job.network.module for job in jobs], keep_float)
    try:
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                              get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
        from torchao.quantization.pt2e.quantizer import get_module_name_filter
    except ImportError:
        raise _missing() from None
    kept_all = []
    for job in jobs:
        network = job.network
        module = _contiguous(network.module)
        example = static_batch(job.calibration, job.batch)
        try:
            graph = pt2e.export(module, example, _dynamic_shapes(network, example), qat=bool(job.qat_steps))
        except Exception as err:  # noqa: BLE001 - as in write
            raise ExecuTorchExportError(f"format=executorch: network {network.name or 'main'!r} cannot be "
                                        f"exported for int8: {_operator(err)} ({type(err).__name__})") from err
        kept = pt2e.kept_modules(module, graph, keep_float)
        kept_all += [f"{network.name}.{name}" if network.name else name for name in kept]
        config = get_symmetric_quantization_config(is_per_channel=True)
        config = pt2e.qat_config(config) if job.qat_steps else config
        quantizer = XNNPACKQuantizer().set_global(config)
        if kept:  # the quantizer takes no "None" config per module: a filter leaves these modules' nodes alone
            in_kept = [get_module_name_filter(name) for name in kept]
            quantizer.set_filter_function(lambda node, in_kept=in_kept: not any(f(node) for f in in_kept))
        prepared = pt2e.prepare(graph, quantizer, job, module, lambda rows: static_batch(rows, job.batch))
        _lower(network, convert_pt2e(prepared), example, job.target)
    return kept_all
