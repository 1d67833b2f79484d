"""Use and ship a trained model: find and load it (checkpoint or exported ONNX), evaluate it, predict on new images,
export it to ONNX (fp32, or int8 by onnxruntime static quantization).

Everything a model needs travels inside its file: a checkpoint carries the run's resolved config (tasks.checkpoint);
an exported ONNX file carries the same config, the task's hyper-parameters (class names included) and its
preprocessing in its metadata. An ONNX model is evaluated and used through its task's own module, whose network
is replaced by the onnxruntime session, so metrics, predictions and reports are computed by the same code.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from omegaconf import OmegaConf
from torchvision.transforms import v2

from data.errors import DatasetError

from .checkpoint import CheckpointError, build_task_model, load_task_model

log = logging.getLogger(__name__)

METADATA_KEYS = ("suite_config", "hyper_parameters")


@dataclass
class LoadedModel:
    model: torch.nn.Module    # the task's module, in eval mode (for ONNX: its forward runs the ONNX session)
    config: dict[str, Any]    # the training run's resolved config
    path: Path                # the file the model came from
    format: str               # "checkpoint" or "onnx"


def resolve_model_path(path: str | Path) -> Path:
    """A run folder (its tested checkpoint, else checkpoints/best.ckpt, else last.ckpt), a .ckpt or a .onnx file."""
    path = Path(path).expanduser()
    if path.is_dir():
        results = path / "results.json"
        tested = json.loads(results.read_text()).get("tested_checkpoint", "") if results.is_file() else ""
        for candidate in (Path(tested) if tested else None, path / "checkpoints" / "best.ckpt",
                          path / "checkpoints" / "last.ckpt"):
            if candidate is not None and candidate.is_file():
                return candidate
        raise CheckpointError(f"ckpt={path}: a folder without results.json or checkpoints/*.ckpt: is it a run folder?")
    if not path.is_file():
        raise CheckpointError(f"ckpt={path}: no such file or folder")
    if path.suffix not in (".ckpt", ".onnx"):
        raise CheckpointError(f"ckpt={path}: expected a run folder, a .ckpt or an .onnx file")
    return path


RUNTIMES = ("onnxruntime", "openvino")


class OnnxForward:
    """Stands in for a task module's forward: runs the exported network on the CPU with onnxruntime, or with
    OpenVINO (an optional extra: `pip install openvino`; it reads the same .onnx file, int8 QDQ ones included)."""

    def __init__(self, path: Path, threads: int | None = None, outputs: int = 1, runtime: str = "onnxruntime"):
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.outputs, self.runtime = outputs, runtime
        if runtime == "openvino":
            try:
                import openvino
            except ImportError:
                raise ImportError("runtime=openvino needs the optional extra: pip install openvino") from None
            # f32: on CPUs with bfloat16 units OpenVINO would otherwise compute in bf16 (its default hint)
            config = {"INFERENCE_PRECISION_HINT": "f32", **({"INFERENCE_NUM_THREADS": threads} if threads else {})}
            self.compiled = openvino.Core().compile_model(openvino.convert_model(str(path)), "CPU", config)
            return
        import onnxruntime
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor):
        array = images.detach().float().cpu().contiguous().numpy()
        if self.runtime == "openvino":
            result = self.compiled(array)
            out = [result[i] for i in range(len(self.compiled.outputs))]
        else:
            out = self.session.run(None, {self.input_name: array})
        tensors = [torch.from_numpy(np.asarray(o)).to(images.device) for o in out[:self.outputs]]
        return tensors[0] if self.outputs == 1 else tuple(tensors)


class SSDNetwork(torch.nn.Module):
    """The exported part of a torchvision SSD: backbone, extra layers and heads, on images already resized and
    normalised by its transform -> (box regression [B, A, 4], class logits [B, A, K+1]). Anchor decoding and NMS
    stay outside (SSDWithOnnx)."""

    def __init__(self, ssd: torch.nn.Module):
        super().__init__()
        self.backbone, self.head = ssd.backbone, ssd.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)
        features = list(features.values()) if isinstance(features, dict) else [features]
        out = self.head(features)
        return out["bbox_regression"], out["cls_logits"]


class SSDWithOnnx:
    """Stands in for a DetectionTask's forward: torchvision's SSD transform, anchors and post-processing (box
    decoding, score threshold, NMS) around the exported network run by onnxruntime."""

    def __init__(self, ssd: torch.nn.Module, path: Path, runtime: str = "onnxruntime"):
        self.ssd, self.network = ssd.eval(), OnnxForward(path, outputs=2, runtime=runtime)
        self.feature_shapes: list[torch.Size] | None = None

    def __call__(self, images, targets=None):
        images = list(images) if isinstance(images, torch.Tensor) else images
        original = [tuple(img.shape[-2:]) for img in images]
        with torch.inference_mode():
            batch, _ = self.ssd.transform(images)
            if self.feature_shapes is None:  # the maps' sizes, which the anchors depend on, from one torch pass
                self.feature_shapes = [f.shape for f in self.ssd.backbone(batch.tensors[:1]).values()]
            regression, logits = self.network(batch.tensors)
            features = [torch.empty(shape[1:]).expand(len(images), *shape[1:]) for shape in self.feature_shapes]
            anchors = self.ssd.anchor_generator(batch, features)
            detections = self.ssd.postprocess_detections({"bbox_regression": regression, "cls_logits": logits},
                                                         anchors, batch.image_sizes)
            return self.ssd.transform.postprocess(detections, batch.image_sizes, original)


class RCNNFeatures(torch.nn.Module):
    """Faster R-CNN's first exported network: backbone (+ FPN) and RPN head on the transformed batch ->
    (feature maps..., objectness per level..., box deltas per level...)."""

    def __init__(self, rcnn: torch.nn.Module):
        super().__init__()
        self.backbone, self.rpn_head = rcnn.backbone, rcnn.rpn.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = list(self.backbone(images).values())
        objectness, deltas = self.rpn_head(maps)
        return (*maps, *objectness, *deltas)


class RCNNBoxHead(torch.nn.Module):
    """Faster R-CNN's second exported network: box head and predictor on RoIAlign's crops -> (class logits,
    box regression)."""

    def __init__(self, rcnn: torch.nn.Module):
        super().__init__()
        self.box_head, self.predictor = rcnn.roi_heads.box_head, rcnn.roi_heads.box_predictor

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.predictor(self.box_head(crops))


class RCNNWithOnnx:
    """Stands in for a Faster R-CNN DetectionTask's forward: torchvision's transform, anchors, proposal decoding
    and NMS, RoIAlign and detection post-processing around the two exported networks."""

    def __init__(self, rcnn: torch.nn.Module, path: Path, head_path: Path, runtime: str = "onnxruntime"):
        self.rcnn = rcnn.eval()
        with torch.inference_mode():
            self.names = list(rcnn.backbone(torch.zeros(1, 3, 64, 64)).keys())
        self.features = OnnxForward(path, outputs=3 * len(self.names), runtime=runtime)
        self.head = OnnxForward(head_path, outputs=2, runtime=runtime)

    def __call__(self, images, targets=None):
        from collections import OrderedDict

        from torchvision.models.detection.rpn import concat_box_prediction_layers
        images = list(images) if isinstance(images, torch.Tensor) else images
        original = [tuple(img.shape[-2:]) for img in images]
        rpn, roi_heads, levels = self.rcnn.rpn, self.rcnn.roi_heads, len(self.names)
        with torch.inference_mode():
            batch, _ = self.rcnn.transform(images)
            outputs = self.features(batch.tensors)
            maps, objectness, deltas = outputs[:levels], list(outputs[levels:2 * levels]), list(outputs[2 * levels:])
            features = OrderedDict(zip(self.names, maps))
            anchors = rpn.anchor_generator(batch, list(maps))
            per_level = [o[0].numel() for o in objectness]
            objectness, deltas = concat_box_prediction_layers(objectness, deltas)
            proposals = rpn.box_coder.decode(deltas, anchors).view(len(anchors), -1, 4)
            boxes, _ = rpn.filter_proposals(proposals, objectness, batch.image_sizes, per_level)
            crops = roi_heads.box_roi_pool(features, boxes, batch.image_sizes)
            if len(crops):
                logits, regression = self.head(crops)
            else:
                logits = crops.new_zeros(0, roi_heads.box_predictor.cls_score.out_features)
                regression = crops.new_zeros(0, roi_heads.box_predictor.bbox_pred.out_features)
            found = roi_heads.postprocess_detections(logits, regression, boxes, batch.image_sizes)
            detections = [{"boxes": b, "scores": s, "labels": c} for b, s, c in zip(*found)]
            return self.rcnn.transform.postprocess(detections, batch.image_sizes, original)


def exported_network(model: torch.nn.Module) -> torch.nn.Module:
    """What export.py writes to ONNX: the task module itself (classifiers), or a detector's network (Faster
    R-CNN: its first network; the box head goes to a second file)."""
    if not is_detector(model):
        return model
    network = RCNNFeatures(model.detector) if model.hparams.get("architecture") == "faster_rcnn" \
        else SSDNetwork(model.detector)
    return network.eval()  # a new wrapper starts in training mode, which exporters restore after tracing


def onnx_metadata(path: Path) -> dict[str, str]:
    import onnx
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:
        raise CheckpointError(f"cannot read ONNX file {path}: {err}") from None
    return {p.key: p.value for p in model.metadata_props}


def load_model(path: str | Path, runtime: str = "onnxruntime") -> LoadedModel:
    """The model behind `ckpt=` (see resolve_model_path), ready for evaluation or prediction; an ONNX file runs
    with `runtime` (onnxruntime or openvino)."""
    path = resolve_model_path(path)
    if path.suffix == ".ckpt":
        model, config = load_task_model(path)
        return LoadedModel(model, config, path, "checkpoint")
    meta = onnx_metadata(path)
    missing = [k for k in METADATA_KEYS if k not in meta]
    if missing:
        raise CheckpointError(f"{path} lacks this suite's metadata {missing}: export it with export.py (an ONNX "
                              f"model from elsewhere can serve as a distillation teacher: teacher=onnx)")
    config, hyper_parameters = json.loads(meta["suite_config"]), json.loads(meta["hyper_parameters"])
    model = build_task_model(config, hyper_parameters, str(path)).eval()
    if "box_head_file" in meta:
        model.forward = RCNNWithOnnx(model.detector, path, path.with_name(meta["box_head_file"]), runtime)
    elif is_detector(model):
        model.forward = SSDWithOnnx(model.detector, path, runtime)
    else:
        model.forward = OnnxForward(path, runtime=runtime)
    return LoadedModel(model, config, path, "onnx")


def is_detector(model: torch.nn.Module) -> bool:
    from .detection import DetectionTask
    return isinstance(model, DetectionTask)


def preprocess(loaded: LoadedModel) -> v2.Compose:
    """PIL image -> the tensor the model takes: the run's evaluation transform (detectors: [0, 1] pixels; they
    resize inside)."""
    if is_detector(loaded.model):
        return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    from data.transforms import classification_transforms
    data = loaded.config["data"]
    return classification_transforms(False, data["image_size"], eval_crop_fraction=data.get("eval_crop_fraction", 1.0),
                                     mean=data["mean"], std=data["std"])


# ---------------------------------------------------------------------------------------------------- evaluate
def evaluate(ckpt: str | Path, overrides: Sequence[str] = (), output_dir: str | Path | None = None,
             latency_repeats: int = 20, runtime: str = "onnxruntime") -> dict[str, Any]:
    """Test a trained model (checkpoint or ONNX) on its run's test split, or on data given by `data.*` overrides,
    with its task's metrics; writes results.json (train.py's keys) into `output_dir`."""
    return evaluate_loaded(load_model(ckpt, runtime), overrides, output_dir, latency_repeats)


def evaluate_loaded(loaded: LoadedModel, overrides: Sequence[str] = (), output_dir: str | Path | None = None,
                    latency_repeats: int = 20) -> dict[str, Any]:
    """evaluate() for a model already loaded (or transformed, e.g. with BatchNorm folded)."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from .runner import backbone_name, print_summary, profile, write_json_atomic
    config = OmegaConf.merge(OmegaConf.create(loaded.config), OmegaConf.from_dotlist(list(overrides)))
    out = Path(output_dir) if output_dir else loaded.path.parent.parent / "eval" / time.strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    config.paths.output_dir = str(out)
    pl.seed_everything(config.seed, workers=True)
    datamodule = instantiate(config.data, _convert_="all")
    trainer = pl.Trainer(accelerator=config.trainer.accelerator if loaded.format == "checkpoint" else "cpu",
                         devices=1, precision=config.trainer.precision if loaded.format == "checkpoint" else "32-true",
                         logger=False, default_root_dir=str(out), enable_checkpointing=False)
    trainer.test(loaded.model, datamodule=datamodule)
    results: dict[str, Any] = {"task": config.task_name, "backbone": backbone_name(config),
                               "image_size": config.image_size, "evaluated": str(loaded.path),
                               "format": loaded.format,
                               "metrics": {k.removeprefix("test/"): float(v) for k, v in trainer.callback_metrics.items()
                                           if k.startswith("test/")}}
    if loaded.format == "checkpoint":
        results.update(profile(loaded.model, config.image_size, latency_repeats))
    else:  # the same network: params and mult-adds of the module it was exported from, latency of the session
        network = build_task_model(loaded.config, json.loads(onnx_metadata(loaded.path)["hyper_parameters"]), "")
        counts = profile(network, config.image_size, 1)
        example = torch.zeros(1, 3, config.image_size, config.image_size)
        results.update({"params": counts["params"], "mult_adds": counts["mult_adds"],
                        "latency_ms": session_latency_ms(loaded.model.forward, example, latency_repeats)})
    results.update(loaded.model.report(results, latency_repeats))
    results["run_dir"] = str(out)
    write_json_atomic(out / "results.json", results)
    print_summary(results)
    return results


def session_latency_ms(run, example: torch.Tensor, repeats: int) -> float:
    """Median wall time of `run(example)` over `repeats` calls after one warm-up."""
    import statistics
    run(example)
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        run(example)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# ------------------------------------------------------------------------------------------------------ export
def sample_images(loaded: LoadedModel, split: str, count: int, network_input: bool = True):
    """`count` images of the run's data split as the exported network takes them (real images for checks and
    calibration), spread evenly over the split; `network_input=False`: the list of preprocessed images (a
    detector's input before its own transform)."""
    from hydra.utils import instantiate

    from data.decoded import load_rgb
    paths = instantiate(OmegaConf.create(loaded.config).data, _convert_="all").image_paths(split)
    picked = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(count, len(paths)))]
    transform = preprocess(loaded)
    images = [transform(load_rgb(p)) for p in picked]
    if not network_input:
        return images
    if is_detector(loaded.model):  # the exported network's input: resized and normalised by the detector's transform
        with torch.no_grad():  # (not inference_mode: the exporter traces these tensors)
            return loaded.model.detector.eval().transform(images)[0].tensors
    return torch.stack(images)


def export_onnx(ckpt: str | Path, output: str | Path | None = None, int8: bool = False,
                calibration_images: int = 100, keep_float: Sequence[str] = (), check_images: int = 8,
                tolerance: float = 1e-3, opset: int = 18) -> dict[str, Any]:
    """Export a checkpoint's network to ONNX with a dynamic batch axis and the suite's metadata, check it against
    PyTorch on real test images (max abs difference, bounded by `tolerance` x the outputs' scale), and with `int8`
    also write a statically quantized copy (QDQ, per-channel int8 weights, int8 activations calibrated on
    `calibration_images` training images; Faster R-CNN's box head on RoIAlign crops of its proposals on them; the
    nodes named by `keep_float` stay in float: "first_conv", "classifier", "heads" (the layers nearest the
    outputs: a detector's prediction heads), or ONNX node names)."""
    loaded = load_model(ckpt)
    if loaded.format != "checkpoint":
        raise CheckpointError(f"ckpt={loaded.path}: export needs a .ckpt (or a run folder), not an ONNX file")
    model = exported_network(loaded.model.cpu().float().eval())
    output = Path(output) if output else loaded.path.parent.parent / "export" / "model.onnx"
    output.parent.mkdir(parents=True, exist_ok=True)
    examples = sample_images(loaded, "test", check_images)
    rcnn = isinstance(model, RCNNFeatures)
    if rcnn:  # images of any size: the legacy exporter keeps height and width dynamic without shape guards
        torch.onnx.export(model, (examples,), str(output), dynamo=False, input_names=["images"],
                          dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}}, opset_version=17)
        head_file = output.with_name(output.stem + ".box_head.onnx")
        crops = torch.randn(5, *_crop_shape(loaded.model.detector))
        torch.onnx.export(RCNNBoxHead(loaded.model.detector).eval(), (crops,), str(head_file), dynamo=False,
                          input_names=["crops"], output_names=["class_logits", "box_regression"],
                          dynamic_axes={"crops": {0: "boxes"}}, opset_version=17)
    else:
        names = ["bbox_regression", "cls_logits"] if is_detector(loaded.model) else ["outputs"]
        torch.onnx.export(model, (examples,), str(output), dynamo=True, external_data=False,
                          input_names=["images"], output_names=names, opset_version=opset,
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    _write_metadata(output, loaded, box_head_file=head_file.name if rcnn else None)
    with torch.inference_mode():
        reference = model(examples)
    report: dict[str, Any] = {"onnx": str(output), "onnx_max_abs_diff": _max_diff(output, examples, reference)}
    scale = max(float(r.abs().max().clamp(min=1)) for r in _as_tuple(reference))
    if report["onnx_max_abs_diff"] > tolerance * scale:
        raise RuntimeError(f"{output}: onnxruntime's outputs differ from PyTorch's by up to "
                           f"{report['onnx_max_abs_diff']:.3g} on {len(examples)} test images (bound "
                           f"{tolerance * scale:.3g})")
    print(f"ONNX fp32: {output} ({output.stat().st_size / 1e6:.2f} MB); max |onnxruntime - PyTorch| on "
          f"{len(examples)} test images: {report['onnx_max_abs_diff']:.2e}")
    if int8:
        quantized = output.with_name(output.stem + ".int8.onnx")
        calibration = sample_images(loaded, "train", calibration_images)
        files = [(output, quantized, {"images": calibration})]
        if rcnn:  # the box head calibrates on the RoIAlign crops of the same training images
            head_int8 = quantized.with_name(quantized.stem + ".box_head.onnx")
            crops = _box_head_crops(loaded.model.detector, sample_images(loaded, "train", calibration_images, False))
            files.append((head_file, head_int8, {"crops": crops}))
        excluded = quantize_int8(files, keep_float)
        _write_metadata(quantized, loaded, box_head_file=head_int8.name if rcnn else None)
        report.update({"onnx_int8": str(quantized), "int8_float_nodes": excluded,
                       "int8_max_abs_diff": _max_diff(quantized, examples, reference)})
        print(f"ONNX int8: {quantized} ({quantized.stat().st_size / 1e6:.2f} MB; kept in float: {excluded or 'none'})"
              f"; max |int8 - PyTorch| on the test images: {report['int8_max_abs_diff']:.3g}")
    return report


def _as_tuple(outputs) -> tuple[torch.Tensor, ...]:
    return outputs if isinstance(outputs, tuple) else (outputs,)


def _max_diff(path: Path, images: torch.Tensor, reference) -> float:
    reference = _as_tuple(reference)
    got = _as_tuple(OnnxForward(path, outputs=len(reference))(images))
    return max(float((g - r).abs().max()) for g, r in zip(got, reference))


def _crop_shape(rcnn: torch.nn.Module) -> tuple[int, int, int]:
    """(channels, side, side) of the RoIAlign crops Faster R-CNN's box head takes."""
    side = rcnn.roi_heads.box_roi_pool.output_size
    side = side[0] if isinstance(side, (tuple, list)) else side
    return rcnn.backbone.out_channels, side, side


def _write_metadata(path: Path, loaded: LoadedModel, box_head_file: str | None = None) -> None:
    """The run's config, the task's hyper-parameters and the preprocessing, as ONNX metadata_props."""
    import onnx
    model = onnx.load(str(path))
    data = loaded.config["data"]
    meta = {"suite_config": json.dumps(loaded.config), "hyper_parameters": json.dumps(dict(loaded.model.hparams)),
            "task": loaded.config["task_name"], "class_names": json.dumps(getattr(loaded.model, "class_names", None)),
            "image_size": json.dumps(data["image_size"]), "crop_fraction": json.dumps(data.get("eval_crop_fraction")),
            "mean": json.dumps(data.get("mean")), "std": json.dumps(data.get("std"))}
    if box_head_file:
        meta["box_head_file"] = box_head_file
    del model.metadata_props[:]
    for key, value in meta.items():
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


def _box_head_crops(rcnn: torch.nn.Module, images: list[torch.Tensor], per_image: int = 64) -> torch.Tensor:
    """RoIAlign's crops of Faster R-CNN's own proposals on `images` (`per_image` of each, evenly spaced over the
    score order): the box head's calibration input."""
    crops = []
    hook = rcnn.roi_heads.box_roi_pool.register_forward_hook(lambda module, args, out: crops.append(out))
    try:
        with torch.inference_mode():
            for image in images:
                rcnn.eval()([image])
    finally:
        hook.remove()
    picked = [c[torch.linspace(0, len(c) - 1, min(per_image, len(c))).long()] for c in crops if len(c)]
    return torch.cat(picked)


def quantize_int8(files: Sequence[tuple[Path, Path, dict[str, torch.Tensor]]],
                  keep_float: Sequence[str]) -> list[str]:
    """onnxruntime static quantization (QDQ, per-channel weights, S8S8) after its pre-processing, of each
    (source, target, {input name: calibration tensor}); returns the nodes kept in float. `keep_float` names
    "first_conv", "classifier", "heads" (the layers nearest each network's outputs) or ONNX node names."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self, inputs: dict[str, torch.Tensor]):
            name, values = next(iter(inputs.items()))
            self.batches = iter([{name: values[i:i + 16].numpy()} for i in range(0, len(values), 16)])

        def get_next(self):
            return next(self.batches, None)

    prepared, excluded, every_node = [], [], set()
    try:
        for source, target, _ in files:
            prepared.append(target.with_name(target.stem + ".prepared.onnx"))
            quant_pre_process(str(source), str(prepared[-1]))
            graph = onnx.load(str(prepared[-1])).graph
            nodes = {n.name for n in graph.node}
            every_node |= nodes
            named = {"first_conv": [n.name for n in graph.node if n.op_type == "Conv"][:1],
                     "classifier": [n.name for n in graph.node if n.op_type in ("Gemm", "MatMul")][-1:],
                     "heads": _output_layers(graph)}
            excluded.append([name for key in keep_float for name in named.get(key, [key]) if name in nodes])
        unknown = sorted(set(keep_float) - {"first_conv", "classifier", "heads"} - every_node)
        if unknown:
            raise ValueError(f"keep_float: no node named {unknown} (use first_conv, classifier, heads or ONNX node "
                             f"names)")
        for (_, target, inputs), source, kept in zip(files, prepared, excluded):
            quantize_static(str(source), str(target), Reader(inputs), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=kept)
    finally:
        for path in prepared:
            path.unlink(missing_ok=True)
    return [name for kept in excluded for name in kept]


def list_sources(source: str | Path) -> list[Path]:
    """An image file, a folder (recursively) or a glob pattern -> image paths, sorted."""
    import glob

    from data.attributes import IMAGE_SUFFIXES
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    if not found:
        raise DatasetError(f"source={source}: no such image, or no images ({', '.join(IMAGE_SUFFIXES)}) in that "
                           f"folder or pattern")
    return sorted(found)


def predict(ckpt: str | Path, source: str | Path, output_dir: str | Path | None = None, top_k: int = 5,
            threshold: float = 0.5, batch_size: int = 16, runtime: str = "onnxruntime") -> Path:
    """Predict every readable image of `source`; writes predictions.jsonl (and annotated images for detectors)
    into `output_dir`, reports unreadable files and skips them, prints ms per image. Returns the JSONL path."""
    from torchvision.io import write_png
    from torchvision.utils import draw_bounding_boxes

    from data.decoded import load_rgb
    loaded = load_model(ckpt, runtime)
    model, transform, detector = loaded.model.cpu(), preprocess(loaded), is_detector(loaded.model)
    out = Path(output_dir) if output_dir else Path("predictions") / time.strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    paths, skipped, records, seconds = list_sources(source), [], [], 0.0
    for start in range(0, len(paths), batch_size):
        batch = []
        for path in paths[start:start + batch_size]:
            try:
                batch.append((path, transform(load_rgb(path))))
            except DatasetError as err:
                skipped.append(str(path))
                print(f"skipped: {err}", flush=True)
        if not batch:
            continue
        inputs = [t for _, t in batch] if detector else torch.stack([t for _, t in batch])
        began = time.perf_counter()
        with torch.inference_mode():
            outputs = model(inputs)
        seconds += time.perf_counter() - began
        for (path, tensor), record, output in zip(batch, model.describe(outputs, top_k, threshold),
                                                  outputs if detector else [None] * len(batch)):
            records.append({"image": str(path), **record})
            if detector and record["detections"]:
                keep = output["scores"] >= threshold
                canvas = draw_bounding_boxes((tensor * 255).to(torch.uint8), output["boxes"][keep],
                                             labels=[d["label"] for d in record["detections"]], colors="red", width=2)
                (out / "annotated").mkdir(exist_ok=True)
                write_png(canvas, str(out / "annotated" / f"{len(records):06d}_{path.stem}.png"))
    predictions = out / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in records))
    ms = 1000 * seconds / max(len(records), 1)
    print(f"{len(records)} images predicted ({len(skipped)} unreadable, skipped), {ms:.2f} ms per image "
          f"(model, batches of {batch_size}, {loaded.format}); predictions: {predictions}", flush=True)
    return predictions


# --------------------------------------------------------------------------------------------- command lines
def parse_args(argv: Sequence[str], known: dict[str, Any], usage: str,
               passthrough: Sequence[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """`key=value` arguments (values parsed as YAML, as Hydra does) -> (known options, passthrough overrides such
    as `data.root=...`); anything else is an error naming the argument."""
    import yaml
    options, overrides = dict(known), []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"{arg!r}: expected key=value\nusage: {usage}")
        if key in known:
            options[key] = yaml.safe_load(value) if value else None
        elif key.split(".")[0] in passthrough:
            overrides.append(arg)
        else:
            raise SystemExit(f"unknown option {key!r}; known: {sorted(known)}"
                             f"{' and ' + ', '.join(k + '.*' for k in passthrough) if passthrough else ''}\n"
                             f"usage: {usage}")
    missing = [k for k, v in options.items() if v == "???"]
    if missing:
        raise SystemExit(f"missing {missing}\nusage: {usage}")
    return options, overrides
