"""A trained model rebuilt from a suite checkpoint alone: every .ckpt carries the run's resolved config.

Used wherever a finished run is reused: a distillation teacher (tasks.distill), evaluation, prediction, export and
comparison (tasks.engine). The backbone is rebuilt without its pretrained weights (the checkpoint holds the trained
ones). `run_checkpoint` says which checkpoint a run folder stands for.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml
from hydra.utils import get_class, instantiate

CONFIG_KEY = "suite_config"  # where TaskModule.on_save_checkpoint stores the run's resolved config


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or not one of this suite's."""


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(checkpoint dict, the run's resolved config) of a suite .ckpt (tensors and plain containers only)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's own message advises weights_only=False: unsafe, and not the fix here
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        if "weights_only" in reason or "Weights only load failed" in reason or isinstance(err, KeyError) \
                or len(reason) < 8:  # torch's unpickler fails on a foreign file with a bare key or opcode
            reason = "not a PyTorch checkpoint (of tensors and plain values)"
        raise CheckpointError(f"cannot read checkpoint {path}: {reason[:160]}; pass a run folder or a .ckpt that "
                              f"train.py wrote") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict)")
    config = checkpoint.get(CONFIG_KEY)
    if config is None:  # written before configs travelled inside checkpoints: the run folder still has it
        saved = path.parent.parent / "config_resolved.yaml"
        if not saved.is_file():
            raise CheckpointError(f"{path} carries no run config and {saved} does not exist: is it a checkpoint of "
                                  f"this suite?")
        config = yaml.safe_load(saved.read_text())
    return checkpoint, config


def build_task_model(config: dict[str, Any], hyper_parameters: dict[str, Any], what: str) -> torch.nn.Module:
    """The run's TaskModule, untrained: its backbone from the config (without pretrained weights) and the task's
    saved hyper-parameters."""
    try:
        backbone_cfg = {k: v for k, v in config["backbone"].items() if k != "pretrained"}
        model_class = get_class(config["model"]["_target_"])
        return model_class(backbone=instantiate(backbone_cfg), **hyper_parameters)
    except (KeyError, ImportError, TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the model of {what} from its config: {err!r}") from None


def run_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint a run folder stands for: the one its results.json says it was tested with, else
    checkpoints/best.ckpt, else checkpoints/last.ckpt; None when it has none."""
    run_dir = Path(run_dir)
    results = run_dir / "results.json"
    tested = json.loads(results.read_text()).get("tested_checkpoint") or "" if results.is_file() else ""
    for candidate in (Path(tested) if tested.endswith(".ckpt") else None, run_dir / "checkpoints" / "best.ckpt",
                      run_dir / "checkpoints" / "last.ckpt"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def load_task_model(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(the checkpoint's TaskModule in eval mode with its trained weights, in the memory layout it was trained in
    (channels-last: the faster one on CPU too), the run's resolved config)."""
    checkpoint, config = read_checkpoint(path)
    model = build_task_model(config, checkpoint.get("hyper_parameters", {}), str(path))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: the weights do not fit the model its config describes: {err}") from None
    if getattr(model, "channels_last", False):
        model.to(memory_format=torch.channels_last)
    return model.eval(), config


class LastCheckpoint(pl.callbacks.ModelCheckpoint):
    """last.ckpt at every epoch's end and, with every_n_train_steps, every N steps too (Lightning's ModelCheckpoint
    does one or the other), but never at an epoch's last batch: that state is saved at the epoch's end, after its
    validation, so that every checkpoint stands either strictly inside an epoch or after it whole, where a resumed
    run continues exactly (data.resumable)."""

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch: Any,
                           batch_idx: int) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._every_n_train_steps < 1:
            return super().on_train_epoch_end(trainer, pl_module)
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))
