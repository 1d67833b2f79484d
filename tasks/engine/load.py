"""A trained model from what a user points at: a run folder, a .ckpt, or an exported file, ready for evaluation,
prediction or export.

Everything a model needs travels inside its file: a checkpoint carries the run's resolved config
(tasks.core.checkpoint); an exported ONNX file carries the same config, the task's hyper-parameters (class names
included), its preprocessing and the files of its other networks in its metadata. An exported model runs through
its task's own module, whose networks are replaced by runtime sessions (the task's `use_exported` hook), so
metrics, predictions and reports are computed by the same code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import CheckpointError, build_task_model, load_task_model, run_checkpoint
from ..core.runtime import RuntimeChoiceError, open_session
from .formats import FORMATS, format_of

METADATA_KEYS = ("suite_config", "hyper_parameters")
EXPORTED_SUFFIXES = tuple(sorted({writer.SUFFIX for writer in FORMATS.values()}))


@dataclass
class LoadedModel:
    model: torch.nn.Module    # the task's module, in eval mode (exported: its forward runs the runtime sessions)
    config: dict[str, Any]    # the training run's resolved config
    path: Path                # the file the model came from
    format: str               # "checkpoint" or an export format: onnx, executorch, litert
    runtime: str = "torch"    # what runs it: torch, or a runtime of tasks.core.runtime


def resolve_model_path(path: str | Path) -> Path:
    """A run folder (the checkpoint it stands for: tasks.core.checkpoint.run_checkpoint), a .ckpt or an exported
    file."""
    path = Path(path).expanduser()
    if path.is_dir() and format_of(path) is None:
        found = run_checkpoint(path)
        if found is None:
            raise CheckpointError(f"ckpt={path}: a folder without results.json or checkpoints/*.ckpt: is it a run "
                                  f"folder?")
        return found
    if not path.exists():
        raise CheckpointError(f"ckpt={path}: no such file or folder")
    if path.suffix not in (".ckpt", *EXPORTED_SUFFIXES):
        raise CheckpointError(f"ckpt={path}: expected a run folder, a .ckpt or an exported file "
                              f"({', '.join(EXPORTED_SUFFIXES)})")
    return path


def exported_files(path: Path, meta: dict[str, str]) -> dict[str, Path]:
    """Every network file of an export, by network name ("" for the main one, whose metadata lists the others)."""
    return {"": path, **{name: path.with_name(file) for name, file in json.loads(meta.get("networks", "{}")).items()}}


def load_model(path: str | Path, runtime: str | None = None) -> LoadedModel:
    """The model behind `ckpt=` (see resolve_model_path), ready for evaluation or prediction; an exported file runs
    with `runtime` (default: its format's own, e.g. onnxruntime for .onnx, executorch for .pte)."""
    path = resolve_model_path(path)
    if path.suffix == ".ckpt":
        model, config = load_task_model(path)
        return LoadedModel(model, config, path, "checkpoint")
    writer = format_of(path)
    name = next(k for k, v in FORMATS.items() if v is writer)
    runtime = runtime or writer.RUNTIME
    if not writer.RUNTIMES:
        raise RuntimeChoiceError(f"{path}: {name} files run on Apple devices only; nothing here can evaluate or "
                                 f"predict with them (export onnx, executorch or litert for that)")
    if runtime not in writer.RUNTIMES:
        raise RuntimeChoiceError(f"{path.name}: a {name} file runs in {', '.join(writer.RUNTIMES)}, not "
                                 f"runtime={runtime}")
    meta = writer.read_metadata(path)
    missing = [k for k in METADATA_KEYS if k not in meta]
    if missing:
        raise CheckpointError(f"{path} lacks this suite's metadata {missing}: export it with export.py (an ONNX "
                              f"model from elsewhere can serve as a distillation teacher: teacher=onnx)")
    config, hyper_parameters = json.loads(meta["suite_config"]), json.loads(meta["hyper_parameters"])
    model = build_task_model(config, hyper_parameters, str(path)).eval()
    model.use_exported({name: open_session(file, runtime) for name, file in exported_files(path, meta).items()})
    return LoadedModel(model, config, path, name, runtime)
