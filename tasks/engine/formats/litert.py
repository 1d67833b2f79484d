"""LiteRT (.tflite): litert_torch.convert, static batch (one file per batch size; a network whose image size varies,
Faster R-CNN's first, keeps height and width free), metadata in a sidecar JSON; full int8 by litert_torch's PT2E
quantizer (static: int8 weights per channel and int8 activations calibrated on real inputs; the file's int8 inputs
and outputs are (de)quantized by the session). Run by ai-edge-litert's interpreter
(tasks.core.runtime.LiteRtSession), whose signature keeps PyTorch's NCHW input and the network's output order."""
from __future__ import annotations

import contextlib
import copy
import os
import re
from pathlib import Path
from typing import Sequence

import torch

from ...core.module import ExportedNetwork
from . import pt2e
from .shapes import static_batch
from .sidecar import read_sidecar, write_sidecar

SUFFIX = ".tflite"
RUNTIME = "litert"
RUNTIMES = ("litert",)
EXTRA = "mobile"
DYNAMIC_BATCH = False  # static shapes: a file per batch size (export.py batch=)
QAT = True  # int8 by quantization-aware fine-tuning too (QuantizeJob.qat_steps)


class LiteRtConversionError(ValueError):
    """litert_torch cannot express a network in LiteRT (an operator without a lowering, a failed conversion)."""


def _package():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info lines at import (a user's setting wins)
    try:
        import litert_torch
    except ImportError:
        from ...core.runtime import missing_extra
        raise missing_extra("litert", "litert-torch", EXTRA) from None
    return litert_torch


@contextlib.contextmanager
def _quiet():
    """litert_torch prints a progress line per conversion step unless LITERT_TORCH_SHOW_PROGRESS says otherwise:
    off while the suite converts (a user's own setting wins)."""
    if "LITERT_TORCH_SHOW_PROGRESS" in os.environ:
        yield
        return
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    try:
        yield
    finally:
        os.environ.pop("LITERT_TORCH_SHOW_PROGRESS", None)


def _standard_layout(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of `module` with its weights in the standard (NCHW, contiguous) memory layout: litert_torch
    serialises channels_last weights (a task's `channels_last` setting) wrongly, and not even deterministically
    (an SSD's box head off by 0.07 on the same file converted twice); the network's own weights stay as they are."""
    return copy.deepcopy(module).to(memory_format=torch.contiguous_format).eval()


def _dynamic_shapes(network: ExportedNetwork):
    """Height and width free where the network takes images of any size (the batch stays static): Dim.AUTO, so
    that torch.export finds their constraints itself (a detector's sizes are multiples of its stride)."""
    free = {axis: torch.export.Dim.AUTO for axis in network.dynamic_axes if axis in (2, 3)}
    return (free,) if free else None


def _convert(network: ExportedNetwork, module: torch.nn.Module, sample: torch.Tensor, **options):
    """litert_torch.convert of `module`, its failures as one-line LiteRtConversionErrors naming the operator."""
    litert_torch = _package()
    try:
        with _quiet():
            return litert_torch.convert(module, (sample,), dynamic_shapes=_dynamic_shapes(network), **options)
    except Exception as err:  # noqa: BLE001 - whatever the exporter or a lowering raises
        message = str(err)
        found = re.search(r"Lowering not found: (\S+)", message)
        what = f"network {network.name or 'main'!r}"
        if found:
            raise LiteRtConversionError(f"format=litert: {what}: operator {found.group(1)} has no LiteRT lowering in "
                                        f"litert_torch (export format=onnx or executorch instead)") from None
        first = next((line.strip() for line in message.splitlines() if line.strip()), type(err).__name__)
        raise LiteRtConversionError(f"format=litert: {what} does not convert: {type(err).__name__}: {first}") from None


def write(network: ExportedNetwork, example: torch.Tensor, path: Path, batch: int = 1) -> None:
    """`network` converted on `batch` rows of `example` (static shapes; NCHW float32 in, as PyTorch takes it), to
    `path`."""
    module = _standard_layout(network.module)
    with torch.no_grad():
        converted = _convert(network, module, static_batch(example, batch))
    with _quiet():
        converted.export(str(path))


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    write_sidecar(path, metadata)


def read_metadata(path: Path) -> dict[str, str]:
    return read_sidecar(path)


def _quantizer(float_modules: Sequence[str]):
    """litert_torch's PT2EQuantizer, leaving the operators of `float_modules` (module names) unannotated, so float.
    Its own set_module_name cannot do it: it refuses None, and its filter misreads torch.export's module stack
    ("L__self__stem.0" keys); the stack's values hold the modules' qualified names."""
    from litert_torch.quantize.pt2e_quantizer import OP_TO_ANNOTATOR, PT2EQuantizer, propagate_annotation

    def quantized(node) -> bool:
        paths = [path for path, _ in node.meta.get("nn_module_stack", {}).values()]
        return not any(p == name or p.startswith(name + ".") for p in paths for name in float_modules)

    class Quantizer(PT2EQuantizer):
        # QAT folds batch norm before annotation (tasks.engine.formats.pt2e): its conv-bn patterns match nothing, and
        # building them fails (litert-torch 0.10 hands torchao 0.18 a function where it exports a module)
        STATIC_QAT_ONLY_OPS = ()

        def annotate(self, model):
            if not float_modules:
                return super().annotate(model)
            for op in self.STATIC_OPS:
                OP_TO_ANNOTATOR[op](model, self.global_config, quantized)
            propagate_annotation(model)
            return model
    return Quantizer()


def quantize(jobs: Sequence, keep_float: Sequence[str]) -> list[str]:
    """Full static int8 of each QuantizeJob's network: litert_torch's PT2EQuantizer (symmetric, per-channel
    weights, int8 activations) on the exported graph, calibrated on job.calibration in batches of job.batch, or
    fine-tuned with fake quantization where job.qat_steps is set (tasks.engine.formats.pt2e), then converted.
    `keep_float`: the modules whose operators stay float (pt2e.kept_modules); returns their names."""
    _package()
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    pt2e.check_keep_float("litert", [job.network.module for job in jobs], keep_float)
    kept = []
    for job in jobs:
        sample = static_batch(job.calibration, job.batch)
        module = _standard_layout(job.network.module)
        try:
            graph = pt2e.export(module, sample, _dynamic_shapes(job.network), qat=bool(job.qat_steps))
            kept.append(pt2e.kept_modules(job.network.module, graph, keep_float))
            config = get_symmetric_quantization_config(is_per_channel=True)
            config = pt2e.qat_config(config) if job.qat_steps else config
            quantizer = _quantizer(kept[-1]).set_global(config)
            graph = pt2e.prepare(graph, quantizer, job, module, lambda rows: static_batch(rows, job.batch))
        except Exception as err:  # noqa: BLE001
            first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
            raise LiteRtConversionError(f"format=litert: int8: network {job.network.name or 'main'!r} does not "
                                        f"quantize: {type(err).__name__}: {first}") from None
        with torch.no_grad():
            graph = convert_pt2e(graph, fold_quantize=False)
            converted = _convert(job.network, graph, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer))
        with _quiet():
            converted.export(str(job.target))
    return [f"{job.network.name}:{name}" if job.network.name else name for job, names in zip(jobs, kept)
            for name in names]
