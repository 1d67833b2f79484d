"""Ship a trained model: write the networks its task exports (TaskModule.export_networks) in a format
(tasks.engine.formats), with the suite's metadata, checked against PyTorch on real test images, and optionally an
int8 copy calibrated on real training images."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.decoded import load_rgb

from ..core.checkpoint import CheckpointError
from ..core.runtime import open_session
from .formats import FORMATS
from .load import LoadedModel, load_model


def sample_images(loaded: LoadedModel, split: str, count: int) -> list[torch.Tensor]:
    """`count` images of the run's data split, spread evenly over it, preprocessed as the model takes them (its
    task's `inference_transform`): real inputs for checks and calibration."""
    paths = instantiate(OmegaConf.create(loaded.config).data, _convert_="all").image_paths(split)
    picked = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(count, len(paths)))]
    transform = loaded.model.inference_transform(loaded.config["data"])
    return [transform(load_rgb(p)) for p in picked]


def network_file(main: Path, name: str) -> Path:
    """The file of network `name` of an export whose main file is `main` (model.onnx, model.box_head.onnx)."""
    return main if not name else main.with_name(f"{main.stem}.{name}{main.suffix}")


def metadata(loaded: LoadedModel, files: dict[str, Path]) -> dict[str, str]:
    """What travels with an export: the run's config, the task's hyper-parameters (class names included), the
    preprocessing and the files of the other networks."""
    data = loaded.config["data"]
    return {"suite_config": json.dumps(loaded.config), "hyper_parameters": json.dumps(dict(loaded.model.hparams)),
            "task": loaded.config["task_name"], "class_names": json.dumps(getattr(loaded.model, "class_names", None)),
            "image_size": json.dumps(data["image_size"]), "crop_fraction": json.dumps(data.get("eval_crop_fraction")),
            "mean": json.dumps(data.get("mean")), "std": json.dumps(data.get("std")),
            "networks": json.dumps({name: path.name for name, path in files.items() if name})}


def _outputs(values) -> tuple[torch.Tensor, ...]:
    return values if isinstance(values, tuple) else (values,)


def max_abs_diff(path: Path, runtime: str, inputs: torch.Tensor, reference) -> float:
    """Largest |exported - PyTorch| over the outputs of one network file run by `runtime`."""
    got = open_session(path, runtime)(inputs)
    return max(float((g - r).abs().max()) for g, r in zip(got, _outputs(reference)))


def export_model(ckpt: str | Path, output: str | Path | None = None, format: str = "onnx", int8: bool = False,
                 calibration_images: int = 100, keep_float: Sequence[str] = (), check_images: int = 8,
                 tolerance: float = 1e-3) -> dict[str, Any]:
    """Export a checkpoint's networks (default file: <run dir>/export/model<suffix>), check each against PyTorch on
    `check_images` real test images (max abs difference, bounded by `tolerance` x the outputs' scale) and, with
    `int8`, also write a quantized copy (<stem>.int8<suffix>) calibrated on `calibration_images` training images;
    the layers named by `keep_float` stay in float ("first_conv", "classifier", "heads": the layers nearest the
    outputs, a detector's prediction heads; or node names)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {format!r}")
    writer = FORMATS[format]
    loaded = load_model(ckpt)
    if loaded.format != "checkpoint":
        raise CheckpointError(f"ckpt={loaded.path}: export needs a .ckpt (or a run folder), not an exported file")
    loaded.model = loaded.model.cpu().float().eval()
    networks = loaded.model.export_networks()
    output = Path(output) if output else loaded.path.parent.parent / "export" / f"model{writer.SUFFIX}"
    output.parent.mkdir(parents=True, exist_ok=True)
    files = {net.name: network_file(output, net.name) for net in networks}
    test_images = sample_images(loaded, "test", check_images)
    report: dict[str, Any] = {format: str(output), f"{format}_max_abs_diff": 0.0}
    checks = {}  # network name -> (its inputs from the test images, PyTorch's outputs on them)
    for net in networks:
        examples = net.inputs(test_images)
        writer.write(net, examples, files[net.name])
        with torch.inference_mode():
            checks[net.name] = examples, net.module(examples)
        diff = max_abs_diff(files[net.name], writer.RUNTIME, *checks[net.name])
        bound = tolerance * max(float(r.abs().max().clamp(min=1)) for r in _outputs(checks[net.name][1]))
        if diff > bound:
            raise RuntimeError(f"{files[net.name]}: {writer.RUNTIME}'s outputs differ from PyTorch's by up to "
                               f"{diff:.3g} on {len(test_images)} test images (bound {bound:.3g})")
        report[f"{format}_max_abs_diff"] = max(report[f"{format}_max_abs_diff"], diff)
    writer.write_metadata(output, metadata(loaded, files))
    sizes = sum(f.stat().st_size for f in files.values()) / 1e6
    print(f"{format} fp32: {output} ({sizes:.2f} MB); max |{writer.RUNTIME} - PyTorch| on {len(test_images)} test "
          f"images: {report[f'{format}_max_abs_diff']:.2e}")
    if int8:
        report.update(_quantize(loaded, format, networks, files, output, checks, calibration_images, keep_float))
    return report


def _quantize(loaded: LoadedModel, format: str, networks, files: dict[str, Path], output: Path,
              checks: dict[str, tuple], calibration_images: int, keep_float: Sequence[str]) -> dict[str, Any]:
    """The int8 copy of every network, calibrated on the training images' real inputs, and its deviation from
    PyTorch on the test images' (`checks`)."""
    writer = FORMATS[format]
    quantized = output.with_name(f"{output.stem}.int8{output.suffix}")
    targets = {net.name: network_file(quantized, net.name) for net in networks}
    calibration = sample_images(loaded, "train", calibration_images)
    kept = writer.quantize([(files[n.name], targets[n.name], n.input_name, n.inputs(calibration)) for n in networks],
                           keep_float)
    writer.write_metadata(quantized, metadata(loaded, targets))
    diff = max(max_abs_diff(targets[net.name], writer.RUNTIME, *checks[net.name]) for net in networks)
    sizes = sum(f.stat().st_size for f in targets.values()) / 1e6
    print(f"int8: {quantized} ({sizes:.2f} MB; kept in float: {kept or 'none'}); max |int8 - PyTorch| on the test "
          f"images: {diff:.3g}")
    return {f"{format}_int8": str(quantized), "int8_float_nodes": kept,
            "int8_max_abs_diff": diff}
