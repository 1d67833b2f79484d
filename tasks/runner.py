"""One run of any task from a composed config: instantiate, fit, test, and write results.json.

Kept apart from train.py so tests can call it on a config composed with Hydra's compose API.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config value is missing or unusable; the message names the key and the fix."""


def resolve_config(cfg: DictConfig) -> dict[str, Any]:
    """The config with every interpolation resolved; a missing mandatory value names its key."""
    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(f"config key '{err.full_key}' has no value (it is '???'): set it on the command line, "
                          f"e.g. {err.full_key}=<value>") from None


def resume_checkpoint(cfg: DictConfig, none_yet_ok: bool = False) -> str | None:
    """`resume`: null (fresh run), a checkpoint path, or "last": the newer of the run dir's checkpoints/last.ckpt
    and checkpoints/interrupted.ckpt (written when a run is stopped with Ctrl+C). `none_yet_ok`: "last" finding
    no checkpoint starts afresh instead of failing."""
    if not cfg.resume:
        return None
    if cfg.resume == "last":
        folder = Path(cfg.paths.output_dir) / "checkpoints"
        found = [p for p in (folder / "last.ckpt", folder / "interrupted.ckpt") if p.is_file()]
        if not found and none_yet_ok:
            log.info("resume=last: no checkpoint in %s yet: this stage starts from the beginning", folder)
            return None
        path = max(found, key=lambda p: p.stat().st_mtime) if found else folder / "last.ckpt"
    else:
        path = Path(cfg.resume)
    if not path.is_file():
        hint = (" (resume=last looks in the run directory: pass the old run's hydra.run.dir=<dir> too)"
                if cfg.resume == "last" else "")
        raise ConfigError(f"resume: checkpoint not found: {path}{hint}")
    return str(path)


def profile(model: torch.nn.Module, image_size: int, latency_repeats: int, throughput_batch: int = 0,
            throughput_repeats: int = 3) -> dict[str, float]:
    """Params, mult-adds at the run's input size, median CPU batch-1 latency of the model's inference and, for
    `throughput_batch` > 0, its CPU throughput (images/s) at that batch size."""
    from backbone.complexity import count_mult_adds, count_params, measure_latency_ms, measure_throughput
    cpu_model = copy.deepcopy(model).cpu().eval()
    example = torch.zeros(1, 3, image_size, image_size)
    measured = {
        "params": count_params(cpu_model),
        "mult_adds": count_mult_adds(cpu_model, example),
        "latency_ms": measure_latency_ms(cpu_model, example, repeats=latency_repeats),
    }
    if throughput_batch > 0:
        batch = torch.rand(throughput_batch, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
        measured["throughput_ips"] = measure_throughput(cpu_model, batch, repeats=throughput_repeats)
        measured["throughput_batch"] = throughput_batch
    measured["cpu_threads"] = torch.get_num_threads()
    return measured


class _StartStep(pl.Callback):
    """Remembers the global step training started at (0, or the resumed checkpoint's), for results.json."""

    def __init__(self) -> None:
        self.step: int | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.step = trainer.global_step


def print_summary(results: dict[str, Any]) -> None:
    """The final table a user reads at the end of a run (test metrics are also in Lightning's own table)."""
    rows = [(f"test {k}", f"{v:.4f}") for k, v in results.get("metrics", {}).items()]
    shown = [("params", "params", 1e-6, ".3f", " M"), ("mult-adds", "mult_adds", 1e-6, ".1f", " M"),
             ("latency (CPU, batch 1)", "latency_ms", 1, ".2f", " ms"), ("train time", "train_seconds", 1, ".0f", " s")]
    rows += [(name, f"{results[key] * scale:{spec}}{unit}") for name, key, scale, spec, unit in shown
             if results.get(key) is not None]
    rows.append(("results", results["run_dir"] + "/results.json"))
    width = max(len(k) for k, _ in rows)
    print("\n".join([f"{results['task']} / {results['backbone']} @ {results['image_size']} px",
                     *(f"  {k:<{width}}  {v}" for k, v in rows)]), flush=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename: readers (and concurrent writers) never see a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False))


def train_and_test(cfg: DictConfig) -> dict[str, Any]:
    """Fit the task's model on its data, test the best checkpoint, and return (and save) the results."""
    resolved = resolve_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    teacher = None
    if cfg.model.get("distill"):  # a distilling task gets its teacher; teacher=train runs (or resumes) stage 1 here,
        from .distill import prepare_teacher  # before this run seeds, so a reused teacher changes nothing below
        teacher = prepare_teacher(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    # a two-stage run stopped in stage 1 has no checkpoint of its own yet: resume=last then starts stage 2 afresh
    ckpt_path = resume_checkpoint(cfg, none_yet_ok=bool(teacher and teacher.get("stage_dir")))

    datamodule = instantiate(cfg.data, _convert_="all")
    backbone = instantiate(cfg.backbone, _convert_="all")
    model_kwargs = {"backbone": backbone, **data_kwargs(cfg, datamodule)}
    if teacher is not None:
        model_kwargs["teacher"] = teacher
    model = instantiate(cfg.model, _convert_="all", **model_kwargs)
    model.run_config = resolved
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not loggers:  # logger=none: Lightning refuses a LearningRateMonitor without a logger to write to
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]
    start_step = _StartStep()
    callbacks.append(start_step)
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    if trainer.is_global_zero:
        (out_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(resolved))

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    train_seconds = time.perf_counter() - start

    results: dict[str, Any] = {"task": cfg.task_name, "backbone": backbone_name(cfg), "image_size": cfg.image_size,
                               "status": "ok", "headline": resolved["headline"],
                               "monitor_metric": cfg.monitor.metric}
    if cfg.test:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        results["metrics"] = {k.removeprefix("test/"): float(v) for k, v in trainer.callback_metrics.items()
                              if k.startswith("test/")}
        results["tested_checkpoint"] = best or "final weights"
    if not trainer.is_global_zero:
        return results
    results.update(profile(model, cfg.image_size, cfg.latency_repeats, cfg.throughput_batch, cfg.throughput_repeats))
    if cfg.test:
        results.update(model.report(results, cfg.latency_repeats))
    results.update({
        "train_seconds": round(train_seconds, 1),
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "start_step": start_step.step,
        "resumed_from": ckpt_path,
        "run_dir": str(out_dir),
        "checkpoints": sorted(str(p) for p in (out_dir / "checkpoints").glob("*.ckpt")),
    })
    write_json_atomic(out_dir / "results.json", results)
    print_summary(results)
    return results


def data_kwargs(cfg: DictConfig, datamodule) -> dict[str, Any]:
    """What the model learns from the data: `num_classes`, `class_names` and the entries of the data module's
    `label_space()` (e.g. geolocation's partition into cells), each for models that take it."""
    import inspect

    from hydra.utils import get_class
    kwargs = {}
    accepted = inspect.signature(get_class(cfg.model._target_)).parameters
    if hasattr(datamodule, "num_classes") and "num_classes" in accepted:
        kwargs["num_classes"] = datamodule.num_classes
    if "class_names" in accepted and getattr(datamodule, "class_names", None):
        kwargs["class_names"] = list(datamodule.class_names)
    if hasattr(datamodule, "label_space"):
        kwargs.update({k: v for k, v in datamodule.label_space().items() if k in accepted})
    return kwargs


def backbone_name(cfg: DictConfig) -> str:
    """A readable backbone id for tables: timm model name, or mobilenet_v1 with its alpha."""
    b = cfg.backbone
    if "model_name" in b:
        return str(b.model_name)
    name = "mobilenet_v1"
    if b.get("conv_type", "separable") != "separable":
        name += f"_{b.conv_type}"
    if b.get("shallow"):
        name += "_shallow"
    return f"{name}_{float(b.width_mult):g}"
