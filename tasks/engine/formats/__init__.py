"""Export formats: one module each, registered here by the name `export.py format=<name>` takes.

A format module provides:
- SUFFIX (".onnx", ".pte", ".tflite", ".mlpackage"), RUNTIME (the runtime in tasks.core.runtime that runs and checks
  its files by default; None where none runs here: Core ML), RUNTIMES (every runtime that can run them), EXTRA
  (the pip extra its packages come from; None: always installed) and DYNAMIC_BATCH (one file takes any batch size;
  False: static shapes, a file per batch size) and QAT (its int8 can be fine-tuned with fake quantization: the
  pt2e formats, through tasks.engine.formats.pt2e);
- `write(network, example, path, batch)`: one network (tasks.core.module.ExportedNetwork) to a file, traced on
  `example` (real preprocessed inputs); formats with static shapes write batch size `batch`;
- `write_metadata(path, metadata)` / `read_metadata(path)`: the suite's metadata (run config, hyper-parameters,
  preprocessing, the other networks' files) inside the main file or beside it (`sidecar`);
- `quantize(jobs, keep_float) -> layers kept in float`: an int8 copy of each QuantizeJob, calibrated on real inputs;
- `validate(path, network, example)` where RUNTIME is None: a structural check of a file nothing here can run.

Which networks a task ships, and how their inputs are built, is the task's (TaskModule.export_networks).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ...core.module import ExportedNetwork
from . import coreml, executorch, litert, onnx
from .sidecar import read_sidecar, sidecar, write_sidecar


@dataclass(frozen=True)
class QuantizeJob:
    """One network to quantize: the module (for formats that quantize the PyTorch graph: pt2e), its fp32 file
    (for formats that quantize the file: onnxruntime), where the int8 file goes, and calibration inputs (real
    training images through the network's `inputs`); with `qat_steps`, a quantization-aware fine-tune of
    `qat_steps` steps at learning rate `qat_lr` on those inputs replaces calibration (formats with QAT)."""
    network: ExportedNetwork
    source: Path
    target: Path
    calibration: torch.Tensor
    batch: int = 1
    qat_steps: int = 0
    qat_lr: float = 1e-5


FORMATS = {"onnx": onnx, "executorch": executorch, "litert": litert, "coreml": coreml}


def format_of(path: str | Path):
    """The format module of an exported file, by its suffix (None: not an exported file)."""
    suffix = Path(path).suffix
    return next((module for module in FORMATS.values() if module.SUFFIX == suffix), None)


__all__ = ["FORMATS", "QuantizeJob", "format_of", "read_sidecar", "sidecar", "write_sidecar"]
