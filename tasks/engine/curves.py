"""Training curves from a run's own log (`<run>/csv/metrics.csv`, Lightning's CSVLogger: conf/logger/default.yaml):
per-epoch values of a logged metric (also read by the comparison report's validation curves, tasks.engine.compare),
and the per-run plot `<run>/training_curves.png`: the training loss and the validation metric the run monitors."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import yaml

from ..core.io import save_figure, subplots

CURVES_FILE = "training_curves.png"
LOSS = "train/loss"


def metrics_csv(run_dir: str | Path) -> Path:
    """Where a run's CSV log is."""
    return Path(run_dir) / "csv" / "metrics.csv"


def metric_curve(path: str | Path, column: str) -> tuple[list[int], list[float]] | None:
    """(epochs, counted from 1; values): the mean of the column's logged values in each epoch (a step-logged
    training loss: the mean of its logged steps; a validation metric: its value), from a metrics.csv. None when
    the file or the column has no value (non-numbers and NaN skipped)."""
    path = Path(path)
    if not path.is_file():
        return None
    by_epoch: dict[int, list[float]] = {}
    with open(path, newline="") as f:
        for record in csv.DictReader(f):
            value, epoch = record.get(column), record.get("epoch")
            if value in (None, "") or epoch in (None, ""):
                continue
            try:
                number = float(value)
                index = int(float(epoch))
            except ValueError:
                continue
            if not math.isnan(number):
                by_epoch.setdefault(index, []).append(number)
    if not by_epoch:
        return None
    epochs = sorted(by_epoch)
    return [e + 1 for e in epochs], [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]


def saved_config(run_dir: str | Path) -> dict:
    """A run's config_resolved.yaml ({} without one)."""
    saved = Path(run_dir) / "config_resolved.yaml"
    return (yaml.safe_load(saved.read_text()) or {}) if saved.is_file() else {}


def monitored_metric(config: dict) -> tuple[str | None, str]:
    """(the validation metric a run monitors, "max" or "min"), from its resolved config: `monitor.metric`, or
    `val/<headline.metric>` for a run that monitors none (it tests its final weights); (None, "max") without
    either."""
    monitor, headline = config.get("monitor") or {}, config.get("headline") or {}
    if monitor.get("metric"):
        return str(monitor["metric"]), str(monitor.get("mode") or "max")
    if headline.get("metric"):
        return f"val/{headline['metric']}", str(headline.get("mode") or "max")
    return None, "max"


def write_training_curves(run_dir: str | Path) -> Path | None:
    """`<run>/training_curves.png`: the training loss per epoch (mean of its logged steps) and the monitored
    validation metric per epoch (monitored_metric; its best epoch marked), from `<run>/csv/metrics.csv`. Returns
    the file, or None when the run has no CSV log (logger=none) or the log holds neither curve."""
    run_dir = Path(run_dir)
    log = metrics_csv(run_dir)
    config = saved_config(run_dir)
    metric, mode = monitored_metric(config)
    loss = metric_curve(log, LOSS)
    validation = metric_curve(log, metric) if metric else None
    if loss is None and validation is None:
        return None
    import matplotlib.ticker
    fig, (left, right) = subplots(ncols=2, figsize=(10, 4))
    for ax, curve, name in ((left, loss, LOSS), (right, validation, metric or "validation metric")):
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if curve is None:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="grey")
            continue
        epochs, values = curve
        ax.plot(epochs, values, marker="." if len(epochs) < 60 else None)
    if validation is not None:
        epochs, values = validation
        best = (max if mode == "max" else min)(range(len(values)), key=values.__getitem__)
        right.scatter([epochs[best]], [values[best]], color="tab:red", zorder=3,
                      label=f"best: {values[best]:.4g} (epoch {epochs[best]})")
        right.legend(fontsize=8)
    fig.suptitle(f"{config.get('task_name') or 'run'}: {run_dir.name}")
    return save_figure(fig, run_dir / CURVES_FILE, dpi=110)
