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

from data.images import load_rgb

from ..core.checkpoint import CheckpointError
from ..core.runtime import open_session
from .config import ConfigError
from .formats import FORMATS, QuantizeJob
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


def check_file(writer, path: Path, network, inputs: torch.Tensor, reference) -> float | None:
    """A written file against PyTorch: the max abs difference in the format's runtime, or (a format nothing here
    runs: Core ML) its structural validation, None."""
    if writer.RUNTIME is None:
        writer.validate(path, network, inputs)
        return None
    return max_abs_diff(path, writer.RUNTIME, inputs, reference)


def export_model(ckpt: str | Path, output: str | Path | None = None, format: str = "onnx", int8: bool = False,
                 calibration_images: int = 100, keep_float: Sequence[str] = (), check_images: int = 8,
                 tolerance: float = 1e-3, batch: int = 1, qat_steps: int = 0, qat_lr: float = 1e-5) -> dict[str, Any]:
    """Export a checkpoint's networks (default file: <run dir>/export/model<suffix>), check each against PyTorch on
    `check_images` real test images (max abs difference, bounded by `tolerance` x the outputs' scale) and, with
    `int8`, also write a quantized copy (<stem>.int8<suffix>) calibrated on `calibration_images` training images;
    the layers named by `keep_float` stay in float ("first_conv", "classifier", "heads": the layers nearest the
    outputs, a detector's prediction heads; or node names). Formats with static shapes (ExecuTorch, LiteRT,
    Core ML) are written for `batch` images per call (their runtimes take any number, in chunks). `qat_steps` > 0:
    the int8 copy is fine-tuned with fake quantization for that many steps instead of calibrated only (formats with
    QAT: executorch, litert; tasks.engine.formats.pt2e)."""
    if format not in FORMATS:
        raise ConfigError(f"format={format}: not a format; one of {', '.join(FORMATS)}")
    writer = FORMATS[format]
    if qat_steps and not int8:
        raise ConfigError(f"qat_steps={qat_steps}: quantization-aware fine-tuning makes the int8 copy; add int8=true")
    if qat_steps and not writer.QAT:
        raise ConfigError(f"qat_steps={qat_steps}: format={format} quantizes after training only; QAT exports to "
                          f"{' or '.join(f'format={name}' for name, module in FORMATS.items() if module.QAT)}")
    loaded = load_model(ckpt)
    if loaded.format != "checkpoint":
        raise CheckpointError(f"ckpt={loaded.path}: export needs a .ckpt (or a run folder), not an exported file")
    loaded.model = loaded.model.cpu().float().eval()
    networks = loaded.model.export_networks()
    output = Path(output) if output else loaded.path.parent.parent / "export" / f"model{writer.SUFFIX}"
    output.parent.mkdir(parents=True, exist_ok=True)
    files = {net.name: network_file(output, net.name) for net in networks}
    test_images = sample_images(loaded, "test", check_images)
    report: dict[str, Any] = {format: str(output), f"{format}_max_abs_diff": None}
    checks = {}  # network name -> (its inputs from the test images, PyTorch's outputs on them)
    for net in networks:
        examples = net.inputs(test_images)
        writer.write(net, examples, files[net.name], batch)
        with torch.inference_mode():
            checks[net.name] = examples, net.module(examples)
        diff = check_file(writer, files[net.name], net, *checks[net.name])
        if diff is None:
            continue
        bound = tolerance * max(float(r.abs().max().clamp(min=1)) for r in _outputs(checks[net.name][1]))
        if diff > bound:
            raise RuntimeError(f"{files[net.name]}: {writer.RUNTIME}'s outputs differ from PyTorch's by up to "
                               f"{diff:.3g} on {len(test_images)} test images (bound {bound:.3g})")
        report[f"{format}_max_abs_diff"] = max(report[f"{format}_max_abs_diff"] or 0.0, diff)
    writer.write_metadata(output, metadata(loaded, files))
    checked = (f"max |{writer.RUNTIME} - PyTorch| on {len(test_images)} test images: "
               f"{report[f'{format}_max_abs_diff']:.2e}" if writer.RUNTIME else "structure validated (no runtime "
               "here)")
    print(f"{format} fp32: {output} ({size_mb(files.values()):.2f} MB); {checked}")
    if int8:
        report.update(_quantize(loaded, format, networks, files, output, checks, calibration_images, keep_float,
                                batch, qat_steps, qat_lr))
    return report


def size_mb(paths) -> float:
    """Megabytes of files (or of packages: folders)."""
    total = 0
    for path in map(Path, paths):
        total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
    return total / 1e6


def _quantize(loaded: LoadedModel, format: str, networks, files: dict[str, Path], output: Path,
              checks: dict[str, tuple], calibration_images: int, keep_float: Sequence[str],
              batch: int, qat_steps: int = 0, qat_lr: float = 1e-5) -> dict[str, Any]:
    """The int8 copy of every network, calibrated (or, with `qat_steps`, fine-tuned) on the training images' real
    inputs, and its deviation from PyTorch on the test images' (`checks`)."""
    writer = FORMATS[format]
    quantized = output.with_name(f"{output.stem}.int8{output.suffix}")
    targets = {net.name: network_file(quantized, net.name) for net in networks}
    calibration = sample_images(loaded, "train", calibration_images)
    kept = writer.quantize([QuantizeJob(n, files[n.name], targets[n.name], n.inputs(calibration), batch, qat_steps,
                                        qat_lr) for n in networks], keep_float)
    method = {"method": "qat" if qat_steps else "ptq", "training_images": len(calibration), "qat_steps": qat_steps,
              "qat_lr": qat_lr if qat_steps else None, "kept_in_float": kept}
    writer.write_metadata(quantized, {**metadata(loaded, targets), "int8": json.dumps(method)})
    diffs = [check_file(writer, targets[net.name], net, *checks[net.name]) for net in networks]
    diff = None if None in diffs else max(diffs)
    how = f"quantization-aware fine-tune, {qat_steps} steps" if qat_steps else "post-training"
    print(f"int8 ({how}, {len(calibration)} training images): {quantized} ({size_mb(targets.values()):.2f} MB; "
          f"kept in float: {kept or 'none'})"
          + (f"; max |int8 - PyTorch| on the test images: {diff:.3g}" if diff is not None else ""))
    return {f"{format}_int8": str(quantized), "int8_method": method["method"], "int8_float_nodes": kept,
            "int8_max_abs_diff": diff}
