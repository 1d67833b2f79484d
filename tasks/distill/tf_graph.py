"""A frozen TensorFlow graph (GraphDef .pb) run as a PyTorch module: the reader of the FaceNet teacher's graph.

TensorFlow itself is not a dependency; the GraphDef is parsed with the TensorFlow protos that ship with
tensorboard (a dependency already), its constants become buffers (convolution kernels in PyTorch's layout), and
its operations run in topological order as the matching PyTorch functions, in NCHW, on batches of any size (a
graph frozen at batch 1 is read as batched). The ops a frozen inference
graph of a convolutional network uses are covered (Inception-ResNet-v1's: Conv2D, BiasAdd, Relu, pooling, ConcatV2,
Mul, Add, Reshape, MatMul, FusedBatchNorm and the L2 normalisation's Square/Sum/Maximum/Rsqrt); any other op is
refused by name when the graph is read, never silently mis-run.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}  # TensorFlow's DataType enum
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


class GraphError(ValueError):
    """The file is not a frozen GraphDef this reader can run (the message names the node and op)."""


def _constant(tensor) -> np.ndarray:
    """A TensorProto's value."""
    if tensor.dtype not in DTYPES:
        raise GraphError(f"constant of unsupported dtype {tensor.dtype}")
    dtype, shape = DTYPES[tensor.dtype], [d.size for d in tensor.tensor_shape.dim]
    if tensor.tensor_content:
        values = np.frombuffer(tensor.tensor_content, dtype=dtype).copy()
    else:
        listed = tensor.float_val if dtype == np.float32 else tensor.double_val if dtype == np.float64 else \
            tensor.int_val if dtype == np.int32 else tensor.int64_val
        values = np.array(list(listed), dtype=dtype)
        if values.size == 1 and math.prod(shape) > 1:  # one value repeated over the shape
            values = np.full(math.prod(shape), values[0], dtype=dtype)
    return values.reshape(shape)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding of one spatial axis: (before, after), the odd pixel after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0) -> torch.Tensor:
    top, bottom = _same_padding(x.shape[2], kernel[0], stride[0])
    left, right = _same_padding(x.shape[3], kernel[1], stride[1])
    return F.pad(x, (left, right, top, bottom), value=value) if top or bottom or left or right else x


class FrozenGraph(nn.Module):
    """`output` of the GraphDef at `path` as a function of its one placeholder, `input` (NCHW float32 here; the
    graph's own layout is NHWC). 4-d values are kept NCHW between ops; axes and reshapes are translated."""

    def __init__(self, path: str | Path, output: str, input: str = "input"):
        super().__init__()
        from tensorboard.compat.proto import graph_pb2
        graph = graph_pb2.GraphDef()
        try:
            graph.ParseFromString(Path(path).read_bytes())
        except Exception as err:
            raise GraphError(f"{path} is not a TensorFlow GraphDef: {err}") from None
        nodes = {node.name: node for node in graph.node}
        if output not in nodes or input not in nodes:
            raise GraphError(f"{path}: no node named {output if output not in nodes else input}")
        self.input, self.output = input, output
        self.steps: list[tuple[str, str, list[str], dict]] = []  # (name, op, inputs, attributes) in run order
        constants: dict[str, np.ndarray] = {}
        order, seen = [], set()

        def visit(name: str) -> None:  # depth-first: every node after its inputs
            stack = [(name, False)]
            while stack:
                current, expanded = stack.pop()
                if current in seen:
                    continue
                if expanded:
                    seen.add(current)
                    order.append(current)
                    continue
                stack.append((current, True))
                for source in nodes[current].input:
                    source = source.split(":")[0].lstrip("^")
                    if source not in seen:
                        stack.append((source, False))

        visit(output)
        for name in order:
            node = nodes[name]
            inputs = [i.split(":")[0] for i in node.input if not i.startswith("^")]
            if node.op == "Const":
                constants[name] = _constant(node.attr["value"].tensor)
            elif node.op == "Placeholder":
                if name != input:
                    raise GraphError(f"{path}: a second placeholder '{name}' (this reader feeds only '{input}')")
            elif node.op in OPS:
                self.steps.append((name, node.op, inputs, {k: v for k, v in node.attr.items()}))
            else:
                raise GraphError(f"{path}: node '{name}' uses op {node.op}, which this reader does not run")
        for name, op, inputs, _ in self.steps:  # kernels in PyTorch's layout, once
            if op == "Conv2D":
                constants[inputs[1]] = constants[inputs[1]].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        self.constants = nn.ParameterDict()  # buffers in effect (no gradient), moved with the module
        self.keys = {name: f"c{i}" for i, name in enumerate(constants)}
        for name, value in constants.items():
            self.constants[self.keys[name]] = nn.Parameter(torch.from_numpy(np.ascontiguousarray(value)),
                                                           requires_grad=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        values = {name: self.constants[key] for name, key in self.keys.items()}
        values[self.input] = images.float()
        for name, op, inputs, attr in self.steps:
            values[name] = OPS[op](*[values[i] for i in inputs], attr=attr)
        return values[self.output]


def _attr_list(attr, key: str) -> list[int]:
    return list(attr[key].list.i)


def _check_nhwc(attr) -> None:
    layout = attr["data_format"].s if "data_format" in attr else b"NHWC"
    if layout not in (b"NHWC", b""):
        raise GraphError(f"data_format {layout!r}: only NHWC graphs are read")


def _conv2d(x, weight, attr):
    _check_nhwc(attr)
    stride = tuple(_attr_list(attr, "strides")[1:3])
    dilation = tuple(_attr_list(attr, "dilations")[1:3]) if "dilations" in attr else (1, 1)
    if dilation != (1, 1):
        raise GraphError("Conv2D with dilation is not read")
    if attr["padding"].s == b"SAME":
        x = _pad_same(x, tuple(weight.shape[2:]), stride)
    return F.conv2d(x, weight, stride=stride)


def _pool(kind):
    def run(x, attr):
        _check_nhwc(attr)
        kernel, stride = tuple(_attr_list(attr, "ksize")[1:3]), tuple(_attr_list(attr, "strides")[1:3])
        if attr["padding"].s == b"SAME":
            if kind == "avg":  # TensorFlow averages over the real pixels only
                return F.avg_pool2d(_pad_same(x, kernel, stride), kernel, stride) / F.avg_pool2d(
                    _pad_same(torch.ones_like(x[:1, :1]), kernel, stride), kernel, stride)
            x = _pad_same(x, kernel, stride, value=-math.inf)
        return F.max_pool2d(x, kernel, stride) if kind == "max" else F.avg_pool2d(x, kernel, stride)
    return run


def _axis(x: torch.Tensor, axis: int) -> int:
    return NHWC_TO_NCHW_AXIS[axis] if x.dim() == 4 else axis


def _concat(*args, attr):
    *tensors, axis = args
    return torch.cat(tensors, dim=_axis(tensors[0], int(axis)))


def _reshape(x, shape, attr):
    shape = [int(s) for s in shape.flatten().tolist()]
    if shape and shape[0] == 1 and x.shape[0] != 1:  # a graph frozen at batch 1 spells its batch axis as 1
        shape[0] = x.shape[0]
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)  # to the graph's layout before its reshape
    out = x.reshape(shape)
    return out.permute(0, 3, 1, 2) if out.dim() == 4 else out


def _matmul(a, b, attr):
    a = a.transpose(-1, -2) if attr["transpose_a"].b else a
    b = b.transpose(-1, -2) if attr["transpose_b"].b else b
    return a @ b


def _channel(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-channel vector shaped to broadcast over x (NCHW or N x C)."""
    return values.view(1, -1, 1, 1) if x.dim() == 4 else values


def _fused_batch_norm(x, scale, offset, mean, variance, attr):
    _check_nhwc(attr)
    epsilon = attr["epsilon"].f
    return (x - _channel(mean, x)) * torch.rsqrt(_channel(variance, x) + epsilon) * _channel(scale, x) + \
        _channel(offset, x)


def _sum(x, axes, attr):
    dims = [_axis(x, int(a)) for a in np.atleast_1d(axes.cpu().numpy())]
    return x.sum(dim=dims, keepdim=bool(attr["keep_dims"].b))


OPS = {
    "Conv2D": _conv2d,
    "BiasAdd": lambda x, bias, attr: x + _channel(bias, x),
    "Relu": lambda x, attr: F.relu(x),
    "MaxPool": _pool("max"),
    "AvgPool": _pool("avg"),
    "ConcatV2": _concat,
    "Mul": lambda a, b, attr: a * b,
    "Add": lambda a, b, attr: a + b,
    "Reshape": _reshape,
    "MatMul": _matmul,
    "FusedBatchNorm": _fused_batch_norm,
    "Square": lambda x, attr: x * x,
    "Sum": _sum,
    "Maximum": lambda a, b, attr: torch.maximum(a, b),
    "Rsqrt": lambda x, attr: torch.rsqrt(x),
}
