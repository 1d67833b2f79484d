"""One run of any task from a composed config: (for a distilling task, first its teacher stage), instantiate, fit,
test, and write results.json.

Kept apart from train.py so tests can call it on a config composed with Hydra's compose API.
"""
from __future__ import annotations

import inspect
import logging
import signal
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytorch_lightning as pl
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.trainer.states import TrainerStatus

from ..core.checkpoint import read_checkpoint, run_checkpoint
from ..core.io import write_json_atomic, write_text_atomic
from ..core.measure import profile
from ..distill import KINDS, TeacherError
from .config import SAVED_CONFIG, ConfigError, changed_keys, check_values, compose, resolve_config, resumed_config
from .curves import write_training_curves
from .errors import RunInterrupted
from .stop import StopAtStep, Stopped

log = logging.getLogger(__name__)


def resume_checkpoint(cfg: DictConfig, none_yet_ok: bool = False) -> str | None:
    """`resume`: null (fresh run), a checkpoint path, "last": the newer of the run dir's checkpoints/last.ckpt
    and checkpoints/interrupted.ckpt (written when a run is stopped with Ctrl+C), or "auto": "last" when the run dir
    has a checkpoint, else a fresh run (the same command starts a run and continues it: a requeued SLURM job).
    `none_yet_ok`: "last" finding no checkpoint starts afresh instead of failing."""
    if not cfg.resume:
        return None
    if cfg.resume in ("last", "auto"):
        folder = Path(cfg.paths.output_dir) / "checkpoints"
        found = [p for p in (folder / "last.ckpt", folder / "interrupted.ckpt") if p.is_file()]
        if not found and (none_yet_ok or cfg.resume == "auto"):
            log.info("resume=%s: no checkpoint in %s yet: this stage starts from the beginning", cfg.resume, folder)
            return None
        path = max(found, key=lambda p: p.stat().st_mtime) if found else folder / "last.ckpt"
    else:
        path = Path(cfg.resume)
    if not path.is_file():
        hint = (" (resume=last looks in the run directory: pass the old run's hydra.run.dir=<dir> too)"
                if cfg.resume == "last" else "")
        raise ConfigError(f"resume: checkpoint not found: {path}{hint}")
    return str(path)


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
    if results.get("metrics_split", "test") != "test":
        rows.append(("metrics from", results["metrics_split"]))
    if results.get("skipped_images"):
        rows.append(("unreadable images", f"{len(results['skipped_images'])} left out (listed in results.json)"))
    rows.append(("results", results["run_dir"] + "/results.json"))
    width = max(len(k) for k, _ in rows)
    print("\n".join([f"{results['task']} / {results['backbone']} @ {results['image_size']} px",
                     *(f"  {k:<{width}}  {v}" for k, v in rows)]), flush=True)


def train_and_test(cfg: DictConfig, overrides: Sequence[str] | None = None,
                   choices: Mapping[str, Any] | None = None, requeue: bool | None = None) -> dict[str, Any]:
    """Fit the task's model on its data, test the best checkpoint, and return (and save) the results.
    `overrides`, `choices`: what was typed on the command line and the config groups chosen; a resumed run checks
    them (None: the whole config) against the config saved in its folder (config.resumed_config). `requeue`: a
    pre-empted submitit job may be requeued to continue (None: when resume=auto; a teacher stage: as its run)."""
    cfg, changed = resumed_config(cfg, overrides, choices)
    resolved = resolve_config(cfg)
    check_values(resolved)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.model.get("distill") and cfg.get("teacher") is not None and cfg.teacher.get("part") is not None:
        return run_teacher_part(cfg)
    teacher = None
    if cfg.model.get("distill"):  # a distilling task gets its teacher; teacher=train runs (or resumes) stage 1 here,
        teacher = prepare_teacher(cfg)  # before this run seeds, so a reused teacher changes nothing below
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    # a two-stage run stopped in stage 1 has no checkpoint of its own yet: resume=last then starts stage 2 afresh
    ckpt_path = resume_checkpoint(cfg, none_yet_ok=bool(teacher and teacher.get("stage_dir")))
    if ckpt_path is None:
        refuse_used_folder(out_dir)

    datamodule, model = build(cfg, teacher)
    model.run_config = resolved
    if ckpt_path:
        check_resume_fits(ckpt_path, model, cfg, datamodule)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not loggers:  # logger=none: Lightning refuses a LearningRateMonitor without a logger to write to
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]
    start_step, stop = _StartStep(), StopAtStep()
    callbacks += [start_step, stop]
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    if trainer.is_global_zero:
        save_config(out_dir, resolved, changed)

    start = time.perf_counter()
    requeue = cfg.resume == "auto" if requeue is None else requeue
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        stop.agree(trainer)  # a signal in the last step, or noted as training ended: every rank knows it
    except Stopped:  # at a step a resumed run continues exactly from, with interrupted.ckpt written: below
        pass
    except SystemExit:  # Lightning ends a run stopped outside training (SIGTERM, Ctrl+C) with SystemExit
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        raise interrupted(trainer, cfg) from None
    finally:
        stop.restore()
    train_seconds = time.perf_counter() - start
    if stop.signum() is not None:  # stopped (or, as training ended, noted: last.ckpt holds the end of training)
        not_requeued = stop.requeue() if requeue and stop.signum() == stop.preemption else None
        raise interrupted(trainer, cfg, stop.signum(), not_requeued)

    results = run_record(cfg, datamodule)
    results["monitor_metric"] = cfg.monitor.metric
    if cfg.test:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        results["metrics"] = logged_test_metrics(trainer)
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
        "resume_changes": changed,
        "run_dir": str(out_dir),
        "checkpoints": sorted(str(p) for p in (out_dir / "checkpoints").glob("*.ckpt")),
    })
    curves = write_training_curves(out_dir)
    if curves is not None:
        results["training_curves"] = str(curves)
    write_json_atomic(out_dir / "results.json", results)
    print_summary(results)
    return results


def build(cfg: DictConfig, teacher: dict[str, Any] | None = None) -> tuple[Any, pl.LightningModule]:
    """The run's data module, set up for fitting (the data's errors, files or shards, come before the trainer
    starts; Lightning's own call reuses it), and its model (given `teacher`, the prepared teacher config)."""
    datamodule = instantiate(cfg.data, _convert_="all")
    backbone = instantiate(cfg.backbone, _convert_="all")
    model_kwargs = {"backbone": backbone, **data_kwargs(cfg, datamodule)}
    if teacher is not None:
        model_kwargs["teacher"] = teacher
    model = instantiate(cfg.model, _convert_="all", **model_kwargs)
    datamodule.setup("fit")
    return datamodule, model


def run_teacher_part(cfg: DictConfig) -> dict[str, Any]:
    """`teacher.part=i`: one part of a distilling run's teacher pass over its training images (a job of an array),
    then done; the run without teacher.part computes whatever part is missing and puts them together. Its
    results.json says which part it computed."""
    if cfg.teacher.kind == "train":
        raise TeacherError("teacher.part: the parts of a teacher pass run from a teacher that exists: "
                           "teacher=checkpoint teacher.path=<the teacher run's best.ckpt> (teacher=train trains it "
                           "first, in the run without teacher.part)")
    datamodule, model = build(cfg, prepare_teacher(cfg))
    device = instantiate(cfg.trainer, logger=False, callbacks=[]).strategy.root_device
    part, parts = int(cfg.teacher.part), int(cfg.teacher.get("parts", 1))
    start = time.perf_counter()
    model.teacher_pass(datamodule, "train", device, part=part)
    results = {**run_record(cfg, datamodule, kind="teacher pass"), "teacher_part": part, "teacher_parts": parts,
               "seconds": round(time.perf_counter() - start, 1), "run_dir": cfg.paths.output_dir}
    write_json_atomic(Path(cfg.paths.output_dir) / "results.json", results)
    print(f"teacher pass: part {part + 1}/{parts} done; the run without teacher.part puts the parts together",
          flush=True)
    return results


def run_record(cfg: DictConfig, datamodule: Any = None, kind: str = "training") -> dict[str, Any]:
    """The keys results.json starts with, for a training run and an evaluation alike: what it is (`kind`:
    training | evaluation | teacher pass), task, backbone (named by its class from the config), input size,
    status, the headline metric, which split the metrics come from (the data module's `metrics_split`: "test", or
    what stands in for a test split the data lacks) and the images left out as unreadable (data.bad_images=skip)."""
    return {"kind": kind, "task": cfg.task_name, "backbone": backbone_name(cfg), "image_size": cfg.image_size,
            "status": "ok", "headline": OmegaConf.to_container(cfg.headline, resolve=True),
            "metrics_split": getattr(datamodule, "metrics_split", "test"),
            "skipped_images": list(getattr(datamodule, "skipped_images", None) or [])}


def save_config(out_dir: Path, resolved: dict[str, Any], changed: Sequence[str]) -> None:
    """config_resolved.yaml: written when a run starts; a resume that changed keys keeps the earlier file as
    config_resolved.<n>.yaml (nothing a run wrote is overwritten)."""
    path = out_dir / SAVED_CONFIG
    if changed and path.is_file():
        number = 1 + len(list(out_dir.glob("config_resolved.*.yaml")))
        path.rename(out_dir / f"config_resolved.{number}.yaml")
    text = OmegaConf.to_yaml(resolved)
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)


def refuse_used_folder(out_dir: Path) -> None:
    """A fresh run never starts in a folder that holds another run's checkpoints: it would overwrite them (and
    Lightning would quietly resume from an interrupted.ckpt there)."""
    found = sorted(p.name for p in (out_dir / "checkpoints").glob("*.ckpt"))
    if found:
        raise ConfigError(f"hydra.run.dir={out_dir} already holds a run (checkpoints/{', '.join(found)}): continue "
                          f"it with resume=last, or start this run in another folder")


def check_resume_fits(ckpt_path: str, model: pl.LightningModule, cfg: DictConfig, datamodule: Any = None) -> None:
    """A checkpoint of another task, backbone or class count is refused in one line before Lightning prints a
    `size mismatch` per tensor; the data module checks its saved state (the data it trained on) here too, before
    the trainer starts (Lightning gives it the same state again when it restores)."""
    checkpoint, config = read_checkpoint(ckpt_path)
    if datamodule is not None and type(datamodule).__qualname__ in checkpoint:
        datamodule.load_state_dict(checkpoint[type(datamodule).__qualname__])
    theirs = OmegaConf.create(config)
    held = f"{theirs.get('task_name')} / {backbone_name(theirs)}"
    expected = f"{cfg.task_name} / {backbone_name(cfg)}"
    own = model.state_dict()
    differ = [(k, list(v.shape), list(own[k].shape)) for k, v in checkpoint["state_dict"].items()
              if k in own and v.shape != own[k].shape]
    if held != expected or differ:
        detail = (f"; {len(differ)} tensors differ in shape, e.g. {differ[0][0]}: checkpoint {differ[0][1]}, this "
                  f"run {differ[0][2]} (another number of classes or width?)" if differ else "")
        raise ConfigError(f"resume={ckpt_path} holds a {held} model but this run builds {expected}{detail}: resume "
                          f"a checkpoint of this run (hydra.run.dir=<its folder> resume=last), or start afresh "
                          f"without resume")


def interrupted(trainer: pl.Trainer, cfg: DictConfig, signum: int | None = None,
                not_requeued: str | None = None) -> RunInterrupted:
    """What a run stopped by a signal (`signum`, else SIGTERM or SIGINT as Lightning saw) says: where it stopped,
    what it wrote, how to continue; for a pre-empted job that was not requeued, why (`not_requeued`: submitit's
    reason; None: not asked for, resume is not auto)."""
    if signum is None:
        signum = signal.SIGTERM if trainer.received_sigterm else signal.SIGINT
    saved = Path(cfg.paths.output_dir) / "checkpoints" / "interrupted.ckpt"
    wrote = f"wrote {saved}" if saved.is_file() else "no interrupted checkpoint written"
    requeue = "" if signum in (signal.SIGTERM, signal.SIGINT) else \
        f" (not requeued: {not_requeued})" if not_requeued else " (with resume=auto the job requeues by itself)"
    return RunInterrupted(f"interrupted by {signal.Signals(signum).name} at epoch {trainer.current_epoch}, step "
                          f"{trainer.global_step}: {wrote}; continue with: python train.py "
                          f"hydra.run.dir={cfg.paths.output_dir} resume=last{requeue}", signum)


def logged_test_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The `test/*` metrics a trainer logged, without the prefix."""
    return {k.removeprefix("test/"): float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}


def data_kwargs(cfg: DictConfig, datamodule) -> dict[str, Any]:
    """What the model learns from the data: `num_classes`, `class_names` and the entries of the data module's
    `label_space()` (e.g. geolocation's partition into cells), each for models that take it."""
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
    """The backbone's readable id for tables, as its class names it from the config (backbone.Backbone)."""
    backbone = OmegaConf.to_container(cfg.backbone, resolve=True)
    return get_class(backbone["_target_"]).config_name(backbone)


# ------------------------------------------------------------------------------------------ stage 1: the teacher
def prepare_teacher(cfg: DictConfig) -> dict[str, Any]:
    """The `teacher` config ready for build_teacher: `train` runs (or reuses) stage 1 and becomes `checkpoint`."""
    if cfg.get("teacher") is None:
        raise TeacherError(f"model.distill=true needs a teacher: teacher={'|'.join(KINDS)}")
    spec = OmegaConf.to_container(cfg.teacher, resolve=True)
    if spec.get("kind") not in KINDS:
        raise TeacherError(f"teacher.kind must be one of {KINDS}, got {spec.get('kind')!r}")
    if spec["kind"] != "train":
        return spec
    checkpoint, stage_dir = run_teacher_stage(cfg)
    return {**spec, "kind": "checkpoint", "path": checkpoint, "stage_dir": str(stage_dir)}


def run_teacher_stage(cfg: DictConfig) -> tuple[str, Path]:
    """Stage 1 as an ordinary run in `teacher.dir` (default `<run dir>/teacher`): composed from
    `teacher.overrides`, with the keys in `teacher.inherit` copied from this run (data source, seed, accelerator,
    ...). Finished with the same config: its tested checkpoint is reused (also by the other runs of a sweep that
    share the folder); interrupted: resumed from its last checkpoint; finished with another config: an error (a
    stale teacher is never used)."""
    stage_dir = Path(cfg.teacher.get("dir") or Path(cfg.paths.output_dir) / "teacher")
    checkpoints = stage_dir / "checkpoints"
    teacher_cfg = compose(list(cfg.teacher.overrides))
    missing = object()
    with open_dict(teacher_cfg):
        for key in cfg.teacher.inherit:
            value = OmegaConf.select(cfg, key, default=missing)
            if value is missing:
                continue
            if OmegaConf.select(teacher_cfg, key, default=missing) is missing:
                raise TeacherError(f"teacher.inherit: '{key}' is not a key of the teacher's config (composed from "
                                   f"{list(cfg.teacher.overrides)}): remove it from teacher.inherit")
            OmegaConf.update(teacher_cfg, key, value, merge=False)
        teacher_cfg.paths.output_dir = str(stage_dir)
        teacher_cfg.test = True
        teacher_cfg.resume = "last" if any((checkpoints / f).is_file() for f in ("last.ckpt", "interrupted.ckpt")) \
            else None
    if teacher_cfg.model.get("distill"):
        raise TeacherError(f"teacher.overrides {list(cfg.teacher.overrides)} compose a run that itself distils: "
                           f"the teacher stage must train on labels (e.g. task=face_attributes_teacher)")
    saved = stage_dir / "config_resolved.yaml"
    if saved.is_file():  # the folder holds a teacher already: only this same teacher may be continued or reused
        differ = changed_keys(yaml.safe_load(saved.read_text()), resolve_config(teacher_cfg), ignore=("resume",))
        if differ:
            raise TeacherError(f"{stage_dir} holds a teacher trained with another config ({', '.join(differ[:5])} "
                               f"differ): use a new run folder, or teacher=checkpoint to distil from it as it is")
    finished = run_checkpoint(stage_dir) if (stage_dir / "results.json").is_file() else None
    if finished is not None:
        log.info("teacher stage finished earlier: reusing %s", finished)
        return str(finished), stage_dir
    log.info("stage 1: training the teacher in %s", stage_dir)
    train_and_test(teacher_cfg, requeue=cfg.resume == "auto")  # a pre-empted job continues stage 1 when requeued
    return str(run_checkpoint(stage_dir) or checkpoints / "last.ckpt"), stage_dir

