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
    """An exported network loaded into a runtime: call it on a float32 CPU batch; returns every output, in order.

    `batch`: None for a network with a free batch axis; else the static batch size the file was written with
    (ExecuTorch, LiteRT, Core ML programs have static shapes): a call with another number of images runs them in
    chunks of that size, the last one padded by repeating its final image, and returns exactly one output row per
    image (outputs without a batch axis are not supported there)."""
    batch: int | None = None

    def __init__(self, path: Path, threads: int | None = None):
        raise NotImplementedError

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        array = images.detach().float().cpu().contiguous().numpy()
        if self.batch is None or len(array) == self.batch:
            outputs = [np.asarray(o) for o in self.run(array)]
        else:
            chunks = []
            for start in range(0, len(array), self.batch):
                chunk = array[start:start + self.batch]
                padded = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - len(chunk), axis=0)])
                chunks.append([np.asarray(o)[:len(chunk)] for o in self.run(np.ascontiguousarray(padded))])
            outputs = [np.concatenate(parts) for parts in zip(*chunks)]
        return tuple(torch.from_numpy(o).to(images.device) for o in outputs)


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


def missing_extra(runtime: str, package: str, extra: str) -> RuntimeChoiceError:
    """The one-line error of a runtime whose optional package is not installed."""
    return RuntimeChoiceError(f"runtime={runtime}: the {package} package is not installed: pip install -e "
                              f"'.[{extra}]'")


class ExecuTorchSession(Session):
    """ExecuTorch's Python runtime (the `mobile` extra) running a .pte program (XNNPACK-delegated on CPUs). Its
    batch size is static (the program's input shape; height and width may be free, up to the bound it was
    written with). `threads` sets ExecuTorch's (process-wide) thread pool."""

    def __init__(self, path: Path, threads: int | None = None):
        try:
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime
        except ImportError:
            raise missing_extra("executorch", "executorch", "mobile") from None
        if threads:
            portable_lib._unsafe_reset_threadpool(threads)
        try:
            self.method = Runtime.get().load_program(Path(path)).load_method("forward")
        except Exception as err:  # noqa: BLE001 - the runtime's own error types: a file it cannot load
            raise CheckpointError(f"cannot load ExecuTorch program {path}: {err}") from None
        self.path, self.shape = Path(path), tuple(self.method.metadata.input_tensor_meta(0).sizes())
        self.batch = int(self.shape[0])

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        try:
            outputs = self.method.execute([torch.from_numpy(array)])
        except RuntimeError as err:  # a shape the program was not written for (static, or above its bound)
            raise ValueError(f"{self.path.name}: ExecuTorch cannot run an input of shape {list(array.shape)} (the "
                             f"program takes {list(self.shape)}, height and width at most that where free): "
                             f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
        return [o.numpy() if isinstance(o, torch.Tensor) else np.asarray(o) for o in outputs]


class LiteRtSession(Session):
    """LiteRT's interpreter (ai-edge-litert, the `mobile` extra) running a .tflite file through its first signature
    (litert_torch's: NCHW float32 in, as PyTorch; outputs output_0, output_1, ... in the network's order). The
    batch is the file's static one; a free height or width is resized per call. int8 inputs and outputs (full int8
    files) are quantized and dequantized with their scale and zero point: callers see float32."""

    def __init__(self, path: Path, threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise missing_extra("litert", "ai-edge-litert", "mobile") from None
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except ValueError as err:
            raise CheckpointError(f"cannot read LiteRT file {path}: {str(err).splitlines()[0]}") from None
        signatures = self.interpreter.get_signature_list()
        if not signatures:
            raise CheckpointError(f"{path}: a .tflite file without a signature (export it with export.py)")
        key = next(iter(signatures))
        self.runner = self.interpreter.get_signature_runner(key)
        self.input_name = signatures[key]["inputs"][0]
        self.output_names = sorted(signatures[key]["outputs"], key=self._position)  # output_10 after output_9
        self.input_detail = self.runner.get_input_details()[self.input_name]
        self.output_details = self.runner.get_output_details()
        first = int(self.input_detail["shape_signature"][0])
        self.batch = first if first > 0 else None

    @staticmethod
    def _position(name: str) -> tuple[int, str]:
        """An output's place: the number ending its signature name (output_<i>)."""
        tail = name.rsplit("_", 1)[-1]
        return (int(tail) if tail.isdigit() else -1, name)

    @staticmethod
    def _scale(detail: dict) -> tuple[float, int] | None:
        """(scale, zero point) of an integer tensor quantized per tensor; None for a float one."""
        scale, zero_point = detail["quantization"]
        return (scale, zero_point) if np.issubdtype(detail["dtype"], np.integer) and scale else None

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        detail, quantized = self.input_detail, self._scale(self.input_detail)
        if quantized:
            info = np.iinfo(detail["dtype"])
            array = np.clip(np.round(array / quantized[0]) + quantized[1], info.min, info.max).astype(detail["dtype"])
        result = self.runner(**{self.input_name: array})
        outputs = []
        for name in self.output_names:
            value, quantized = result[name], self._scale(self.output_details[name])
            outputs.append((value.astype(np.float32) - quantized[1]) * np.float32(quantized[0]) if quantized
                           else value)
        return outputs


RUNTIMES: dict[str, type[Session]] = {"onnxruntime": OnnxRuntimeSession, "openvino": OpenVinoSession,
                                      "executorch": ExecuTorchSession, "litert": LiteRtSession}


RUNTIME_PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "executorch": "executorch",
                    "litert": "ai_edge_litert"}  # the module each runtime imports


def runtime_available(runtime: str) -> bool:
    """Whether `runtime`'s package is installed (optional extras: openvino, mobile)."""
    import importlib.util
    return importlib.util.find_spec(RUNTIME_PACKAGES[runtime]) is not None


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
