"""int8 by torchao's pt2e, shared by the formats that quantize the PyTorch graph (executorch, litert; each brings its
own quantizer and lowering): the network exported, annotated by the format's quantizer, then either calibrated on
real inputs (post-training quantization) or fine-tuned with fake quantization (quantization-aware training).

QAT here is a short fine-tune from the trained checkpoint, task-agnostic: the network is fake-quantized with the
post-training quantizer's own observers (qat_config), calibrated on the training images a QuantizeJob carries as
post-training int8 is, then, with those ranges fixed, its weights learn to reproduce the float network's outputs (mean
squared error, each output scaled by its variance) on the same images, randomly flipped. Batch norm is folded into the
convolutions before annotation (frozen at its trained statistics, as post-training int8 folds it), so the folded
weights are what is fake-quantized and learns."""
from __future__ import annotations

import copy
import dataclasses
from typing import Sequence

import torch

QAT_BATCH = 16  # images per fine-tuning step
KEEP_FLOAT = ("first_conv", "classifier", "heads")  # besides the network's own module names


def _output_modules(graph: torch.fx.GraphModule) -> list[str]:
    """The modules nearest an exported graph's outputs (a detector's prediction heads, a classifier): convolutions
    and linear layers met walking back from every output through anything else."""
    layers = (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)
    output = next(n for n in graph.graph.nodes if n.op == "output")
    found, seen, stack = [], set(), list(output.all_input_nodes)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.op == "call_function" and node.target in layers:
            path = list(node.meta.get("nn_module_stack", {}).values())[-1][0]
            found += [path] if path not in found else []
        else:
            stack.extend(node.all_input_nodes)
    return found


def check_keep_float(format: str, modules: Sequence[torch.nn.Module], keep_float: Sequence[str]) -> None:
    """A ValueError in one line for a `keep_float` entry that is neither a KEEP_FLOAT key nor a module name of any
    of `modules`."""
    every = {name for module in modules for name, _ in module.named_modules()}
    unknown = sorted(set(keep_float) - set(KEEP_FLOAT) - every)
    if unknown:
        raise ValueError(f"keep_float: no module named {unknown} for format={format} (use {', '.join(KEEP_FLOAT)} "
                         f"or module names)")


def kept_modules(module: torch.nn.Module, graph: torch.fx.GraphModule, keep_float: Sequence[str]) -> list[str]:
    """The submodules of `module` (exported as `graph`) that `keep_float` names, whose operators the quantizer
    leaves in float: "first_conv" (the first Conv2d), "classifier" (the last Linear), "heads" (the layers nearest
    the outputs: SSD's class and box convolutions) or module names."""
    modules = dict(module.named_modules())
    named = {"first_conv": [n for n, m in modules.items() if isinstance(m, torch.nn.Conv2d)][:1],
             "classifier": [n for n, m in modules.items() if isinstance(m, torch.nn.Linear)][-1:],
             "heads": _output_modules(graph) if "heads" in keep_float else []}
    return list(dict.fromkeys(name for key in keep_float for name in named.get(key, [key]) if name in modules and name))


def _outputs(values) -> tuple[torch.Tensor, ...]:
    return values if isinstance(values, tuple) else (values,)


def _with_free_batch(dynamic_shapes):
    """The format's dynamic shapes (None or a one-input tuple of {axis: Dim}) with the batch axis free too."""
    axes = dict(dynamic_shapes[0]) if dynamic_shapes else {}
    axes[0] = torch.export.Dim.AUTO
    return (axes,)


def qat_config(config):
    """A quantizer's post-training config (torchao's or litert-torch's QuantizationConfig) for QAT: each observer
    wrapped in FakeQuantize, so the fine-tune starts from exactly post-training int8's ranges (histogram-calibrated
    activations, per-channel min-max weights) and the file converted afterwards is the network it trained.

    Not the quantizers' own QAT configs: their FusedMovingAvgObsFakeQuantize computes scales that conversion does not
    write (per-channel weights for [-128, 127] and without eps where conversion uses [-127, 127] and eps; 24% apart on
    near-dead depthwise channels of the dogs default) and moving-average ranges worse than the histogram's; a
    fine-tune through them improved the fake-quantized network while the converted one got worse (logits' error
    0.0019 -> 0.012 of their variance on the dogs default)."""
    from torchao.quantization.pt2e.fake_quantize import FakeQuantize

    def faked(spec):
        constructor = getattr(spec, "observer_or_fake_quant_ctr", None)
        if getattr(constructor, "p", None) is None:
            return spec
        wrapped = FakeQuantize.with_args(observer=constructor.p.func, **constructor.p.keywords)
        return dataclasses.replace(spec, observer_or_fake_quant_ctr=wrapped)

    return dataclasses.replace(config, is_qat=True, **{field: faked(getattr(config, field))
                                                       for field in ("input_activation", "output_activation",
                                                                     "weight")})


def export(module: torch.nn.Module, example: torch.Tensor, dynamic_shapes, qat: bool) -> torch.fx.GraphModule:
    """`module` (eval mode, NCHW weights) as the graph pt2e annotates. For QAT: a copy whose parameters the
    fine-tune may change (`module` stays the float reference), batch norm folded into the convolutions, and the
    batch axis free (the fine-tune's batches differ from the file's batch)."""
    if not qat:
        with torch.no_grad():
            return torch.export.export(module, (example,), dynamic_shapes=dynamic_shapes).module()
    from torchao.quantization.pt2e.utils import _fuse_conv_bn_  # what prepare_pt2e folds with (no public name)

    rows = example[torch.arange(QAT_BATCH) % len(example)]  # a batch of more than 1: the batch axis stays free
    free = _with_free_batch(dynamic_shapes)
    graph = torch.export.export(copy.deepcopy(module), (rows,), dynamic_shapes=free).module()
    _fuse_conv_bn_(graph)
    return graph


def prepare(graph: torch.fx.GraphModule, quantizer, job, float_module: torch.nn.Module, rows) -> torch.fx.GraphModule:
    """`graph` annotated by `quantizer`, then calibrated on `job.calibration` (post-training; `rows(inputs)` gives
    the file's static batch) or, with `job.qat_steps`, fine-tuned against `float_module`'s outputs; ready for
    convert_pt2e."""
    from torchao.quantization.pt2e import disable_observer, move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e, prepare_qat_pt2e

    if not job.qat_steps:
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for start in range(0, len(job.calibration), job.batch):
                prepared(rows(job.calibration[start:start + job.batch]))
        return prepared
    prepared = prepare_qat_pt2e(graph, quantizer)
    with torch.no_grad():  # calibrated first, as post-training int8 is; then the ranges stay fixed while weights learn
        for start in range(0, len(job.calibration), QAT_BATCH):
            prepared(job.calibration[start:start + QAT_BATCH])
    prepared.apply(disable_observer)
    fine_tune(prepared, float_module, job.calibration, job.qat_steps, job.qat_lr)
    move_exported_model_to_eval(prepared)
    for layer in prepared.modules():  # the nn.Module flag too (pt2e forbids .eval() on it; converters read it)
        layer.training = False
    return prepared


def fine_tune(prepared: torch.fx.GraphModule, float_module: torch.nn.Module, inputs: torch.Tensor, steps: int,
              lr: float, seed: int = 0) -> list[float]:
    """`steps` Adam steps of `prepared` (fake-quantized) towards `float_module`'s outputs on random batches of
    `inputs`, each input flipped left-right with probability 1/2; returns the losses."""
    generator = torch.Generator().manual_seed(seed)
    parameters = [p for p in prepared.parameters() if p.is_floating_point()]
    for parameter in parameters:
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for _ in range(steps):
        batch = inputs[torch.randint(len(inputs), (QAT_BATCH,), generator=generator)]
        flip = torch.rand(len(batch), generator=generator) < 0.5
        batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        with torch.no_grad():
            wanted = _outputs(float_module(batch))
        got = _outputs(prepared(batch))
        loss = sum(torch.nn.functional.mse_loss(g, w) / w.var().clamp(min=1e-8) for g, w in zip(got, wanted))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
