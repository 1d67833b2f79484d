"""Runtimes that run an exported network outside PyTorch, behind one call: `session(images) -> tuple of tensors`.

A runtime is one class here, registered in RUNTIMES; evaluation, prediction, export checks and ONNX teachers all
reach it through `open_session`. The task module decides what runs around the session (tasks.core.module:
`use_exported`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError


class Session:
    """An exported network loaded into a runtime: call it on a float32 CPU batch; returns every output, in order."""

    def __init__(self, path: Path, threads: int | None = None):
        raise NotImplementedError

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        array = images.detach().float().cpu().contiguous().numpy()
        return tuple(torch.from_numpy(np.asarray(o)).to(images.device) for o in self.run(array))


class OnnxRuntimeSession(Session):
    """onnxruntime on the CPU."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: array})


class RuntimeChoiceError(ValueError):
    """The runtime asked for does not exist, or its optional package is not installed."""


class OpenVinoSession(Session):
    """OpenVINO on the CPU (an optional extra: `pip install openvino`); it reads the same .onnx files, int8 QDQ ones
    included."""

    def __init__(self, path: Path, threads: int | None = None):
        try:
            import openvino
        except ImportError:
            raise RuntimeChoiceError("runtime=openvino: the openvino package is not installed: pip install -e "
                                     "'.[openvino]' (or use runtime=onnxruntime)") from None
        # f32: on CPUs with bfloat16 units OpenVINO would otherwise compute in bf16 (its default hint)
        config = {"INFERENCE_PRECISION_HINT": "f32", **({"INFERENCE_NUM_THREADS": threads} if threads else {})}
        self.compiled = openvino.Core().compile_model(openvino.convert_model(str(path)), "CPU", config)

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        result = self.compiled(array)
        return [result[i] for i in range(len(self.compiled.outputs))]


RUNTIMES: dict[str, type[Session]] = {"onnxruntime": OnnxRuntimeSession, "openvino": OpenVinoSession}


def open_session(path: str | Path, runtime: str = "onnxruntime", threads: int | None = None) -> Session:
    """`path` loaded into `runtime` (one of RUNTIMES)."""
    if runtime not in RUNTIMES:
        raise RuntimeChoiceError(f"runtime={runtime}: not a runtime; one of {', '.join(RUNTIMES)}")
    return RUNTIMES[runtime](Path(path), threads)


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """An ONNX file's metadata_props (this suite's export writes the run's config, the task's hyper-parameters and
    the preprocessing there), read without its weights."""
    import onnx
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:
        raise CheckpointError(f"cannot read ONNX file {path}: {err}") from None
    return {p.key: p.value for p in model.metadata_props}
