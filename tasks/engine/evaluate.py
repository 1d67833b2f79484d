"""Evaluate a trained model (checkpoint or exported file) on its run's test split, or on other data given by
`data.*` overrides, with its task's own metrics; writes results.json with train.py's keys."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from backbone.complexity import count_mult_adds, count_params, measure_latency_ms

from ..core.checkpoint import build_task_model
from ..core.io import write_json_atomic
from ..core.measure import profile
from ..core.progress import progress_bar
from .config import ConfigError, check_overrides, check_values
from .load import LoadedModel, load_model
from .run import data_kwargs, logged_test_metrics, print_summary, run_record


def evaluate(ckpt: str | Path, overrides: Sequence[str] = (), output_dir: str | Path | None = None,
             latency_repeats: int = 20, runtime: str | None = None) -> dict[str, Any]:
    """Test a trained model (a run folder, a .ckpt or an exported file run with `runtime`) on its run's test
    split, or on data given by `data.*` overrides; writes results.json (train.py's keys) into `output_dir`
    (default: <run dir>/eval/<date_time>)."""
    return evaluate_loaded(load_model(ckpt, runtime), overrides, output_dir, latency_repeats)


def evaluate_loaded(loaded: LoadedModel, overrides: Sequence[str] = (), output_dir: str | Path | None = None,
                    latency_repeats: int = 20) -> dict[str, Any]:
    """evaluate() for a model already loaded (or transformed, e.g. with BatchNorm folded)."""
    config = OmegaConf.create(loaded.config)
    check_overrides(config, overrides)
    config = OmegaConf.merge(config, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
    given = {o.lstrip("+").partition("=")[0] for o in overrides}
    if "data.root" in given and "data.generator" not in given and config.data.get("generator") is not None:
        config.data.generator = None  # other data on disk: the run's settings of its generated default do not apply
    check_values(OmegaConf.to_container(config, resolve=True))
    out = Path(output_dir) if output_dir else loaded.path.parent.parent / "eval" / time.strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    config.paths.output_dir = str(out)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    datamodule = instantiate(config.data, _convert_="all")
    check_same_labels(loaded, config, datamodule)
    in_torch = loaded.format == "checkpoint"  # an exported model runs on the CPU, in float32
    trainer = pl.Trainer(accelerator=config.trainer.accelerator if in_torch else "cpu", devices=1,
                         precision=config.trainer.precision if in_torch else "32-true", logger=False,
                         default_root_dir=str(out), enable_checkpointing=False, callbacks=[progress_bar()])
    trainer.test(loaded.model, datamodule=datamodule)
    results: dict[str, Any] = {**run_record(config, datamodule, "evaluation"), "evaluated": str(loaded.path),
                               "format": loaded.format, "runtime": loaded.runtime,
                               "metrics": logged_test_metrics(trainer)}
    if in_torch:
        results.update(profile(loaded.model, config.image_size, latency_repeats))
    else:  # the same network: params and mult-adds of the module it was exported from, latency of the runtime
        network = build_task_model(loaded.config, dict(loaded.model.hparams), str(loaded.path)).eval()
        example = torch.zeros(1, 3, config.image_size, config.image_size)
        results.update({"params": count_params(network), "mult_adds": count_mult_adds(network, example),
                        "latency_ms": measure_latency_ms(loaded.model.forward, example, repeats=latency_repeats),
                        "cpu_threads": torch.get_num_threads()})
    results.update(loaded.model.report(results, latency_repeats))
    results["run_dir"] = str(out)
    write_json_atomic(out / "results.json", results)
    print_summary(results)
    return results


def check_same_labels(loaded: LoadedModel, config, datamodule) -> None:
    """Other data must have the classes the model was trained on (their number, and their names when both know
    them), or the metrics would compare unrelated labels."""
    trained = dict(loaded.model.hparams)
    given = data_kwargs(config, datamodule)
    for key in ("num_classes", "class_names"):
        if key in trained and key in given and trained[key] is not None and list(np.atleast_1d(trained[key])) != \
                list(np.atleast_1d(given[key])):
            shown = {"num_classes": lambda n: f"{n} classes",
                     "class_names": lambda v: f"the classes {list(v)[:4]}{'...' if len(v) > 4 else ''}"}[key]
            raise ConfigError(f"{loaded.path} was trained on {shown(trained[key])} but the data "
                              f"({config.data.get('root') or 'the embedded default'}) has {shown(given[key])}: "
                              f"evaluate on data with the model's classes (data.root=...), or train on this data")
