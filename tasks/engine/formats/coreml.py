"""Core ML (.mlpackage, an ML program): coremltools converts the torch.export'ed network, static shapes, the suite's
metadata in the package's user-defined metadata. No Core ML runtime exists on Linux: a written package is
validated for its structure (inputs, outputs, shapes), not run.

fp32: an ML program computed in float32 (`compute_precision=FLOAT32`; coremltools' default would be float16),
iOS 16 / macOS 13 or later, with the batch size the export was asked for. int8: the same program with int8
per-channel symmetric weights (coremltools.optimize.coreml.linear_quantize_weights; weight-only, so no calibration:
activations stay in float); weights of fewer than 2,048 elements stay in float (coremltools' default threshold).
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import shutil
from pathlib import Path
from typing import Sequence

import torch

from ...core.module import ExportedNetwork
from ..config import ConfigError
from .shapes import static_batch

SUFFIX = ".mlpackage"
RUNTIME = None
RUNTIMES: tuple[str, ...] = ()
EXTRA = "mobile"
DYNAMIC_BATCH = False  # static shapes: a file per batch size (export.py batch=)
QAT = False  # int8 after training only
DEPLOYMENT_TARGET = "iOS16"        # the oldest target of ML programs with every op the suite's networks use
COREMLTOOLS_KEYS = "com.github.apple.coremltools."  # what coremltools writes in user_defined_metadata itself
WEIGHT_THRESHOLD = 2048            # int8: weights with fewer elements stay in float (coremltools' default)


class CoreMLExportError(ConfigError):
    """A network Core ML cannot hold (an operator coremltools does not convert), or an export option it does not
    support: one line naming the operator or option, and the formats to use instead."""


def _coremltools():
    try:
        import coremltools
    except ImportError:
        raise CoreMLExportError("format=coreml: the coremltools package is not installed: pip install -e "
                                "'.[mobile]'") from None
    return coremltools


def _outputs(values) -> tuple[torch.Tensor, ...]:
    return tuple(values) if isinstance(values, (tuple, list)) else (values,)


class _FailedOp(logging.Handler):
    """Catches the op coremltools names (in a log line) when converting one of the graph's nodes fails."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.op: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"converting '([^']+)' op", record.getMessage())
        if found and self.op is None:
            self.op = found.group(1)


def _operator(error: BaseException, logged: str | None) -> str | None:
    """The operator a conversion failed on: from coremltools' message or its log line."""
    text = str(error)
    for pattern in (r"op '([^']+)' not implemented", r"Unsupported fx node .*, kind (\S+)", r"kind (\S+)$"):
        found = re.search(pattern, text)
        if found:
            return found.group(1)
    return logged


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def write(network: ExportedNetwork, example: torch.Tensor, path: Path, batch: int = 1) -> None:
    """`network` exported (torch.export) on `batch` images of `example`, converted to an fp32 ML program at
    `path` (a .mlpackage folder) with static shapes."""
    ct = _coremltools()
    what = f"network '{network.name or 'main'}'"
    example = static_batch(example, batch)
    module = network.module.eval()
    try:
        with torch.inference_mode(False), torch.no_grad():
            program = torch.export.export(module, (example,)).run_decompositions({})
    except Exception as err:  # noqa: BLE001 - torch.export's own failure, named
        raise CoreMLExportError(f"format=coreml: torch.export cannot export {what} ({_one_line(err)}); export "
                                f"onnx instead") from err
    with torch.no_grad():
        n_outputs = len(_outputs(module(example)))
    outputs = [ct.TensorType(name=name) for name in network.output_names] \
        if network.output_names and len(network.output_names) == n_outputs else None
    catcher = _FailedOp()
    torch_logger = logging.getLogger("coremltools")
    torch_logger.addHandler(catcher)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # coremltools' progress bars (3 per network)
            model = ct.convert(program, convert_to="mlprogram",
                               minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET),
                               compute_precision=ct.precision.FLOAT32,
                               inputs=[ct.TensorType(name=network.input_name, shape=tuple(example.shape))],
                               outputs=outputs)
    except Exception as err:  # noqa: BLE001 - every conversion failure as one line naming the op when known
        op = _operator(err, catcher.op)
        if op:
            raise CoreMLExportError(f"format=coreml: coremltools cannot convert operator '{op}' of {what} "
                                    f"({_one_line(err)}); export onnx, executorch or litert instead") from err
        raise CoreMLExportError(f"format=coreml: coremltools failed to convert {what}: {_one_line(err)}") from err
    finally:
        torch_logger.removeHandler(catcher)
    path = Path(path)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    model.save(str(path))


def _load(path: Path):
    ct = _coremltools()
    try:
        return ct.models.MLModel(str(path), skip_model_load=True)
    except Exception as err:  # noqa: BLE001 - not a package coremltools reads
        from ...core.checkpoint import CheckpointError
        raise CheckpointError(f"cannot read Core ML package {path}: {_one_line(err)}") from None


def _save_over(model, path: Path) -> None:
    """`model` (loaded from `path`) saved back to `path`: coremltools cannot save a package onto itself."""
    path = Path(path)
    staging = path.with_name(path.stem + ".saving" + SUFFIX)
    if staging.exists():
        shutil.rmtree(staging)
    model.save(str(staging))
    shutil.rmtree(path)
    staging.rename(path)


def read_metadata(path: Path) -> dict[str, str]:
    """The suite's entries of the package's user-defined metadata (not coremltools' own)."""
    meta = _load(path).user_defined_metadata
    return {key: meta[key] for key in meta if not key.startswith(COREMLTOOLS_KEYS)}


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """`metadata` as the package's user-defined metadata (replacing the suite's previous entries)."""
    model = _load(path)
    meta = model.user_defined_metadata
    for key in [k for k in meta if not k.startswith(COREMLTOOLS_KEYS)]:
        del meta[key]
    for key, value in metadata.items():
        meta[key] = str(value)
    _save_over(model, path)


def _shape(feature) -> tuple[int, ...]:
    return tuple(int(d) for d in feature.type.multiArrayType.shape)


def validate(path: Path, network: ExportedNetwork, example: torch.Tensor) -> None:
    """The package's structure against the network: an ML program, one input named as the network's with the
    example's image shape (any static batch), as many outputs as the network has."""
    path = Path(path)
    spec = _load(path).get_spec()
    where = f"{path.name}"
    if spec.WhichOneof("Type") != "mlProgram":
        raise CoreMLExportError(f"{where}: not an ML program (a {spec.WhichOneof('Type')} model)")
    inputs = list(spec.description.input)
    if len(inputs) != 1 or inputs[0].name != network.input_name:
        raise CoreMLExportError(f"{where}: inputs {[i.name for i in inputs]}, expected ['{network.input_name}']")
    shape = _shape(inputs[0])
    if len(shape) != example.dim() or shape[1:] != tuple(example.shape[1:]) or shape[0] < 1:
        raise CoreMLExportError(f"{where}: input '{network.input_name}' has shape {list(shape)}, expected "
                                f"[batch, {', '.join(map(str, example.shape[1:]))}]")
    with torch.inference_mode():
        expected = len(_outputs(network.module.eval()(example[:1])))
    outputs = list(spec.description.output)
    if len(outputs) != expected:
        raise CoreMLExportError(f"{where}: {len(outputs)} outputs, the network has {expected}")
    names = list(network.output_names)
    if names and [o.name for o in outputs] != names:
        raise CoreMLExportError(f"{where}: outputs {[o.name for o in outputs]}, expected {names}")


def quantize(jobs: Sequence, keep_float: Sequence[str]) -> list[str]:
    """int8 per-channel symmetric weights (weight-only) of each QuantizeJob's fp32 package into its target; no
    layer is kept in float by choice (returns [])."""
    if keep_float:
        raise CoreMLExportError(f"format=coreml int8=true: keep_float={list(keep_float)} is not supported (Core ML "
                                f"int8 quantizes the weights of every layer; export onnx for keep_float)")
    ct = _coremltools()
    from coremltools.optimize.coreml import OpLinearQuantizerConfig, OptimizationConfig, linear_quantize_weights
    config = OptimizationConfig(global_config=OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=WEIGHT_THRESHOLD))
    for job in jobs:
        source = Path(job.source)
        if not source.is_dir():
            raise CoreMLExportError(f"format=coreml int8=true: {source} is not an fp32 .mlpackage written first")
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # its progress bars
                quantized = linear_quantize_weights(ct.models.MLModel(str(source), skip_model_load=True), config)
        except Exception as err:  # noqa: BLE001 - one line naming the package
            raise CoreMLExportError(f"format=coreml int8=true: coremltools could not quantize {source.name}: "
                                    f"{_one_line(err)}") from err
        target = Path(job.target)
        if target.exists():
            shutil.rmtree(target)
        quantized.save(str(target))
    return []
