"""The comparison report of a set of runs: which backbone to pick for a latency, size or accuracy budget.

For every run under the given folders (its results.json, or failure.json when it failed): a table sorted by the
task's headline metric (`headline` in each task's config: top1, AP, mean AP, 10-fold accuracy, accuracy at
750 km) with params, mult-adds at the run's resolution, CPU batch-1 latency, batch-32 throughput, train time and
the Pareto-optimal rows marked (no other run is at least as good for less), written as comparison.md and
comparison.csv; and plots: the headline metric against mult-adds and against latency (log x, the Pareto front
drawn) and the runs' validation curves overlaid.

A multirun (`python train.py -m ...`) rebuilds it in its sweep folder after every job (`hydra.callbacks` in
conf/config.yaml), so a failed or interrupted sweep still leaves a report. By hand, over any set of runs:
    python compare.py multirun/dogs/2026-11-23_10-00-00 [more folders ...] [--out DIR]
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import statistics

import torch
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from backbone.complexity import measure_latency_ms, measure_throughput

from ..core.checkpoint import load_task_model, run_checkpoint
from ..core.io import save_figure, subplots, write_json_atomic, write_text_atomic
from .curves import metric_curve, metrics_csv
from .cli import ArgumentParser
from .config import ConfigError
from .errors import RunInterrupted, one_line, write_traceback
from .run import backbone_name

FAILURE_FILE = "failure.json"
# the table's columns, in order: (key in a row, Markdown header)
COLUMNS = [("task", "task"), ("backbone", "backbone"), ("image_size", "size"), ("headline", "headline"),
           ("params", "params"), ("mult_adds", "mult-adds"), ("latency_ms", "latency b1 (ms)"),
           ("throughput", "b32 (img/s)"), ("file_mb", "file (MB)"), ("train_seconds", "train (s)"),
           ("pareto", "Pareto"),
           ("status", "status")]
COSTS = {"mult_adds": "mult-adds", "latency_ms": "latency"}  # what a Pareto-optimal run spends least of


def _row(results: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    headline = results.get("headline") or {}
    metrics = results.get("metrics") or {}
    row = {key: results.get(key) for key, _ in COLUMNS}
    row.update({
        "status": results.get("status", "ok"),
        "headline_metric": headline.get("metric"),
        "headline_mode": headline.get("mode", "max"),
        "headline": metrics.get(headline.get("metric")),
        "throughput": results.get("throughput_ips"),
        "error": results.get("error", ""),
        "kind": results.get("kind", "training"),  # or "evaluation": eval.py's results.json
        "metrics_split": results.get("metrics_split", "test"),
        "run_dir": str(run_dir),
        "checkpoint": _checkpoint(results, run_dir),
    })
    row.update({f"metric/{k}": v for k, v in metrics.items()})
    return row


def _checkpoint(results: dict[str, Any], run_dir: Path) -> str:
    """The weights a finished run stands for (tasks.core.checkpoint.run_checkpoint); none for a failed run."""
    found = run_checkpoint(run_dir) if results.get("status", "ok") == "ok" else None
    return str(found) if found else ""


def measure_together(rows: list[dict[str, Any]], rounds: int = 3, latency_repeats: int = 20,
                     batch: int = 32, runtime: str | None = None, int8: bool = False) -> str:
    """Re-time every finished run's model in this one process: CPU batch-1 latency and batch-`batch` throughput, in
    `rounds` rounds that go through all models in turn (medians). Timings taken at the end of each run come from
    different moments (or machines); these are comparable with each other. `runtime`: time each model as it ships
    (exported, `int8` or float, by the format that runtime runs: tasks.engine.formats) instead of in PyTorch, and
    record its file size; formats with static shapes (written for batch 1) get no throughput figure. Returns the
    line the report prints about them."""
    import tempfile
    from .export import export_model, size_mb
    from .formats import FORMATS
    from .load import exported_files, load_model
    name = None
    if runtime is not None:
        name = next((n for n, f in FORMATS.items() if runtime in f.RUNTIMES), None)
        if name is None:
            raise ConfigError(f"--runtime {runtime}: no export format runs in it; runtimes: "
                              f"{', '.join(r for f in FORMATS.values() for r in f.RUNTIMES)}")
    models = []
    with tempfile.TemporaryDirectory(prefix="compare_measure_") as folder:  # the exports timed, removed after
        work = Path(folder)
        for index, row in enumerate(rows):
            if row["status"] != "ok" or not row.get("checkpoint"):
                continue
            side = int(row["image_size"])
            images = torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(0))
            if name is None:
                model, _ = load_task_model(row["checkpoint"])  # in the layout the run trained and was timed in
                models.append((row, model.cpu().eval(), torch.zeros(1, 3, side, side), images))
                continue
            writer = FORMATS[name]
            report = export_model(row["checkpoint"], work / str(index) / f"model{writer.SUFFIX}", format=name,
                                  int8=int8, check_images=2, calibration_images=32)
            path = Path(report[f"{name}_int8"] if int8 else report[name])
            loaded = load_model(path, runtime)
            row["file_mb"] = size_mb(exported_files(path, writer.read_metadata(path)).values())
            models.append((row, loaded.model.forward, torch.zeros(1, 3, side, side),
                           images if writer.DYNAMIC_BATCH else None))
        latencies: dict[int, list[float]] = {id(row): [] for row, *_ in models}
        throughputs: dict[int, list[float]] = {id(row): [] for row, *_ in models}
        for _ in range(rounds):
            for row, model, image, images in models:
                latencies[id(row)].append(measure_latency_ms(model, image, repeats=latency_repeats))
                if images is not None:
                    throughputs[id(row)].append(measure_throughput(model, images, repeats=1))
        for row, *_ in models:
            row["latency_ms"] = statistics.median(latencies[id(row)])
            row["throughput"] = statistics.median(throughputs[id(row)]) if throughputs[id(row)] else None
            row["measured"] = "together" if runtime is None else f"{runtime} {'int8' if int8 else 'fp32'}"
    where = ("from the runs' checkpoints in PyTorch" if runtime is None else
             f"exported as {name} {'int8' if int8 else 'fp32'} and run in {runtime} (file sizes: file (MB))")
    return (f"Latency and b{batch}: re-measured together in one process, {where} (`python compare.py --measure`; "
            f"{rounds} rounds through all models, medians; {torch.get_num_threads()} CPU threads).")


def collect(folders: list[str | Path]) -> list[dict[str, Any]]:
    """One row per run under `folders`: finished (results.json), failed (failure.json), or started and never
    finished (a Hydra job folder with neither: killed, or still running)."""
    rows, seen = [], set()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"no such folder of runs: {folder}")
        records: dict[Path, Path] = {}  # run folder -> its newer record (a failed run resumed to the end, ...)
        for path in [*folder.rglob("results.json"), *folder.rglob(FAILURE_FILE)]:
            known = records.get(path.parent)
            if known is None or path.stat().st_mtime > known.stat().st_mtime:
                records[path.parent] = path
        for run, path in sorted(records.items()):
            if run.resolve() in seen:
                continue
            seen.add(run.resolve())
            rows.append(_row(json.loads(path.read_text()), run))
        for hydra_dir in sorted(folder.rglob(".hydra")):
            run = hydra_dir.parent
            if run.resolve() in seen or not (hydra_dir / "overrides.yaml").is_file():
                continue
            seen.add(run.resolve())
            job = OmegaConf.load(hydra_dir / "config.yaml") if (hydra_dir / "config.yaml").is_file() else {}
            rows.append(_row({"task": job.get("task_name"), "status": "unfinished",
                              "error": "no results.json: still running, or killed",
                              "image_size": OmegaConf.select(job, "data.image_size", default=None)}, run))
    return rows


def mark_pareto(rows: list[dict[str, Any]]) -> None:
    """Set row["pareto"] to the costs ("mult-adds", "latency") on whose front the run lies, within the runs that
    share its headline metric: no other finished run has a headline at least as good and a cost at most as
    high, one of them strictly."""
    for row in rows:
        row["pareto"] = ""
    for metric, group in _groups(rows).items():
        for cost, name in COSTS.items():
            scored = [r for r in group if r.get(cost) is not None]
            for row in scored:
                better = _better(row)
                dominated = any(o is not row and better(o["headline"], row["headline"]) >= 0 and o[cost] <= row[cost]
                                and (better(o["headline"], row["headline"]) > 0 or o[cost] < row[cost])
                                for o in scored)
                if not dominated:
                    row["pareto"] = f"{row['pareto']}, {name}" if row["pareto"] else name


def _better(row: dict[str, Any]):
    """compare(a, b) > 0 when headline a is better than b (mode max or min)."""
    sign = -1 if row.get("headline_mode") == "min" else 1
    return lambda a, b: sign * ((a > b) - (a < b))


def _groups(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Finished runs with a headline value, by headline metric (runs are compared only on the same metric)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] == "ok" and isinstance(row.get("headline"), (int, float)) and not math.isnan(row["headline"]):
            groups.setdefault(row["headline_metric"], []).append(row)
    return groups


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best headline first (within each metric), then runs without one (failed, unfinished)."""
    def key(row):
        value = row.get("headline")
        if row["status"] != "ok" or not isinstance(value, (int, float)) or math.isnan(value):
            return (1, "", 0.0, row["run_dir"])
        return (0, row["headline_metric"] or "", -value if row["headline_mode"] != "min" else value, row["run_dir"])
    return sorted(rows, key=key)


def _format(key: str, row: dict[str, Any]) -> str:
    value = row.get(key)
    if value is None or value == "":
        return ""
    if key == "headline":  # metrics not from a disjoint test split say where they come from
        split = row.get("metrics_split") or "test"
        return f"{row['headline_metric']} {value:.4f}" + ("" if split == "test" else f" ({split.split()[0]}†)")
    if key == "task" and row.get("kind") == "evaluation":
        return f"{value} (evaluation)"
    if key == "params":
        return f"{value / 1e6:.2f} M"
    if key == "mult_adds":
        return f"{value / 1e6:.1f} M"
    if key == "status" and value != "ok":
        error = str(row.get("error", "")).replace("|", "/").replace("\n", " ")
        return f"**{value}**: {error[:200]}"
    if isinstance(value, float):
        return f"{value:.1f}" if key != "latency_ms" else f"{value:.2f}"
    return str(value)


def write_report(folders: list[str | Path], out: str | Path, measure: bool = False, runtime: str | None = None,
                 int8: bool = False) -> list[Path]:
    """comparison.md, comparison.csv and the plots of the runs under `folders`, written into `out`; [] when
    there are no runs. `measure`: re-time all models together first (measure_together, in `runtime` if given)."""
    rows = collect(folders)
    if not rows:
        return []
    timing = ("Latency: CPU, batch 1, median; b32: CPU images/s at batch 32; both as measured at the end of each "
              "run, on its machine.")
    if measure:
        timing = measure_together(rows, runtime=runtime, int8=int8)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mark_pareto(rows)
    rows = sort_rows(rows)
    keys = list(dict.fromkeys([*(k for k, _ in COLUMNS), "headline_metric", "headline_mode", "error", "run_dir",
                               *(k for row in rows for k in row)]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "comparison.csv", buffer.getvalue())
    written = [out / "comparison.md", out / "comparison.csv"]
    plots = write_plots(rows, out)
    lines = ["| " + " | ".join(header for _, header in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_format(k, row) for k, _ in COLUMNS) + " |" for row in rows]
    lines += ["", "Sorted by the headline metric (best first). Pareto: no other run has a headline at least as good "
              f"for at most the same mult-adds (or latency). {timing}",
              *(f"† {row['run_dir']}: metrics from {row['metrics_split']}" for row in rows
                if (row.get("metrics_split") or "test") != "test"), "",
              *(f"![{p.stem}]({p.name})" for p in plots), "",
              *(f"- `{row['run_dir']}`" for row in rows)]
    write_text_atomic(out / "comparison.md", "\n".join(lines) + "\n")
    return [*written, *plots]


def write_plots(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Per headline metric: metric vs mult-adds, metric vs latency (Pareto front drawn) and validation curves."""
    import matplotlib.ticker
    written = []
    groups = _groups(rows)
    for metric, group in groups.items():
        prefix = "" if len(groups) == 1 else f"{metric}_"
        tasks = " / ".join(dict.fromkeys(str(r["task"]) for r in sorted(group, key=lambda r: str(r["task"]))))
        for cost, name in COSTS.items():
            points = [r for r in group if r.get(cost)]
            if not points:
                continue
            fig, ax = subplots(figsize=(7, 4.5))
            ax.scatter([r[cost] for r in points], [r["headline"] for r in points], color="tab:blue", zorder=3)
            for r in points:
                ax.annotate(f"{r['backbone']} @ {r['image_size']}", (r[cost], r["headline"]), fontsize=7,
                            xytext=(4, 4), textcoords="offset points")
            front = sorted((r for r in points if name in r["pareto"].split(", ")), key=lambda r: r[cost])
            ax.plot([r[cost] for r in front], [r["headline"] for r in front], color="tab:red", drawstyle="steps-post",
                    marker="o", markersize=11, markerfacecolor="none", label="Pareto front", zorder=2)
            ax.set_xscale("log")
            ax.margins(x=0.15, y=0.08)  # room for the labels of the outermost points
            ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter())
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.legend(loc="lower right")
            written.append(_finish(fig, ax, "mult-adds per image" if cost == "mult_adds" else "CPU latency, batch 1 (ms)",
                                   f"test {metric}", f"{tasks}: {metric} vs {name}",
                                   out / f"{prefix}{metric}_vs_{cost}.png"))
        curves = [(r, _validation_curve(r)) for r in group]
        curves = [(r, c) for r, c in curves if c]
        if curves:
            fig, ax = subplots(figsize=(7, 4.5))
            for r, (column, epochs, values) in curves:
                ax.plot(epochs, values, marker=".", label=f"{r['backbone']} @ {r['image_size']} ({column})")
            ax.legend(fontsize=7)
            written.append(_finish(fig, ax, "epoch", "validation metric", f"{tasks}: validation curves",
                                   out / f"{prefix}validation_curves.png"))
    return written


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    """Label, grid and save one plot."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path, dpi=110)


def _validation_curve(row: dict[str, Any]) -> tuple[str, list[float], list[float]] | None:
    """(column, epochs, values) of val/<headline metric> in the run's csv/metrics.csv, or of its monitored
    metric when the headline is not validated; None without a log."""
    path = metrics_csv(row["run_dir"])
    columns = [f"val/{row['headline_metric']}", row.get("monitor_metric")]
    for column in filter(None, columns):
        curve = metric_curve(path, column)
        if curve:
            return column, *curve
    return None


def record_failure(run_dir: str | Path, config: DictConfig, error: BaseException) -> Path:
    """failure.json in a failed (or interrupted) run's folder: what it was, and the one line its error is known by
    (traceback in error.txt), so the comparison lists it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_traceback(error, "train", run_dir)

    def get(getter):
        try:
            return getter()
        except Exception:  # a config that cannot even resolve still gets its failure recorded
            return None
    failure = {
        "status": "interrupted" if isinstance(error, RunInterrupted) else "failed",
        "error": one_line(error),
        "task": get(lambda: config.task_name),
        "backbone": get(lambda: backbone_name(config)),
        "image_size": get(lambda: config.image_size),
        "headline": get(lambda: OmegaConf.to_container(config.headline, resolve=True)),
    }
    path = run_dir / FAILURE_FILE
    write_json_atomic(path, failure)
    return path


class ComparisonReport(Callback):
    """Hydra callback: records a failed job (failure.json) and, in a multirun, rebuilds the sweep folder's report
    after every job and at the end, so a sweep with failures still ends with its report."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status == JobStatus.FAILED:
            run_dir = Path(config.hydra.runtime.output_dir)
            record_failure(run_dir, config, job_return._return_value)
        if config.hydra.mode == RunMode.MULTIRUN:
            write_report([config.hydra.sweep.dir], config.hydra.sweep.dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if write_report([config.hydra.sweep.dir], config.hydra.sweep.dir):
            report = Path(config.hydra.sweep.dir) / "comparison.md"
            print(f"comparison report: {report}\n{report.read_text()}")


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python compare.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="folders holding runs (searched recursively)")
    parser.add_argument("--out", help="where to write the report (default: the folder, when there is one)")
    parser.add_argument("--measure", action="store_true",
                        help="re-time latency and throughput of all runs together, in this process, from their "
                             "checkpoints (comparable figures; else each run's own, taken when it ended)")
    parser.add_argument("--runtime", help="with --measure: time each model exported and run in this runtime "
                                          "(onnxruntime, openvino, executorch, litert) instead of PyTorch")
    parser.add_argument("--int8", action="store_true", help="with --runtime: the int8 export")
    args = parser.parse_args(argv)
    if (args.runtime or args.int8) and not args.measure:
        parser.error("--runtime and --int8 go with --measure")
    if args.out is None and len(args.folders) > 1:
        parser.error("several folders: say where the report goes with --out DIR")
    out = Path(args.out or args.folders[0])
    try:
        written = write_report(args.folders, out, measure=args.measure, runtime=args.runtime, int8=args.int8)
    except FileNotFoundError as err:
        parser.error(str(err))
    if not written:
        parser.error(f"no runs (results.json, failure.json or .hydra/) under {', '.join(args.folders)}")
    print((out / "comparison.md").read_text())
    print("written: " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
