"""ONNX: fp32 files with a dynamic batch axis (torch.onnx, dynamo exporter; the legacy one where height and width
vary too), the suite's metadata in `metadata_props`, and int8 by onnxruntime static quantization (QDQ, per-channel
int8 weights, int8 activations calibrated on real inputs). Run by onnxruntime or OpenVINO (tasks.core.runtime)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch

from ...core.module import ExportedNetwork
from ...core.runtime import onnx_metadata

SUFFIX = ".onnx"
RUNTIME = "onnxruntime"           # the runtime that checks a written file
RUNTIMES = ("onnxruntime", "openvino")
EXTRA = None
QAT = False  # int8 after training only
DYNAMIC_BATCH = True              # one file takes any batch size
KEEP_FLOAT = ("first_conv", "classifier", "heads")

log = logging.getLogger(__name__)


def write(network: ExportedNetwork, example: torch.Tensor, path: Path, batch: int = 1, opset: int = 18) -> None:
    """`network` traced on `example`, to `path`; the axes in `network.dynamic_axes` stay free (any `batch`)."""
    output_names = list(network.output_names) or None
    if set(network.dynamic_axes) - {0}:  # images of any size: the legacy exporter keeps height and width dynamic
        names = {0: "batch", 2: "height", 3: "width"}  # without shape guards
        torch.onnx.export(network.module, (example,), str(path), dynamo=False, input_names=[network.input_name],
                          output_names=output_names, opset_version=17,
                          dynamic_axes={network.input_name: {a: names[a] for a in network.dynamic_axes}})
    else:
        torch.onnx.export(network.module, (example,), str(path), dynamo=True, external_data=False,
                          input_names=[network.input_name], output_names=output_names, opset_version=opset,
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                          verbose=False)  # not its 8 progress lines per network


def read_metadata(path: Path) -> dict[str, str]:
    return onnx_metadata(path)


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """`metadata` as the file's metadata_props (replacing any)."""
    import onnx
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def _output_layers(graph) -> list[str]:
    """The layers nearest the graph's outputs (a detector's prediction heads, a classifier): convolutions and
    matrix products met walking back from every output through anything else."""
    producer = {out: node for node in graph.node for out in node.output}
    found, seen, stack = [], set(), [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            found.append(node.name)
        else:
            stack.extend(node.input)
    return found


def pre_process(source: Path, target: Path) -> None:
    """onnxruntime's quantization pre-processing (shape inference, graph optimisation) of `source` into `target`.
    Its symbolic shape inference does not know every operator of the graphs torch.onnx writes (opset 18's
    ReduceL2 with axes as an input, in an embedding's L2 normalisation, leaves a shape unknown and it fails): then
    the file is pre-processed without it (ONNX's own shape inference and the optimisation still run), which is
    all static quantization needs."""
    from onnxruntime.quantization import quant_pre_process
    try:
        quant_pre_process(str(source), str(target))
    except Exception as err:  # noqa: BLE001 - any failure inside onnxruntime's symbolic shape inference
        log.info("%s: onnxruntime's symbolic shape inference failed (%s: %s); pre-processing without it", source.name,
                 type(err).__name__, err)
        quant_pre_process(str(source), str(target), skip_symbolic_shape=True)


def quantize(jobs: Sequence, keep_float: Sequence[str]) -> list[str]:
    """onnxruntime static quantization (QDQ, per-channel weights, S8S8) after its pre-processing, of each
    QuantizeJob's fp32 file; returns the nodes kept in float. `keep_float` names "first_conv", "classifier",
    "heads" (the layers nearest each network's outputs) or ONNX node names."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self, name: str, values: torch.Tensor):
            self.batches = iter([{name: values[i:i + 16].numpy()} for i in range(0, len(values), 16)])

        def get_next(self):
            return next(self.batches, None)

    prepared, excluded, every_node = [], [], set()
    try:
        for job in jobs:
            prepared.append(job.target.with_name(job.target.stem + ".prepared.onnx"))
            pre_process(job.source, prepared[-1])
            graph = onnx.load(str(prepared[-1])).graph
            nodes = {n.name for n in graph.node}
            every_node |= nodes
            named = {"first_conv": [n.name for n in graph.node if n.op_type == "Conv"][:1],
                     "classifier": [n.name for n in graph.node if n.op_type in ("Gemm", "MatMul")][-1:],
                     "heads": _output_layers(graph)}
            excluded.append([name for key in keep_float for name in named.get(key, [key]) if name in nodes])
        unknown = sorted(set(keep_float) - set(KEEP_FLOAT) - every_node)
        if unknown:
            raise ValueError(f"keep_float: no node named {unknown} (use first_conv, classifier, heads or ONNX node "
                             f"names)")
        for job, source, kept in zip(jobs, prepared, excluded):
            quantize_static(str(source), str(job.target), Reader(job.network.input_name, job.calibration),
                            quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=kept)
    finally:
        for path in prepared:
            path.unlink(missing_ok=True)
    return [name for kept in excluded for name in kept]
