"""A comparison table (Markdown + CSV) of every run under a folder, built from their results.json files.

Runs by itself after a multirun (`hydra.callbacks` in conf/config.yaml), or by hand:
    python -m tasks.compare multirun/dogs/2026-11-23_10-00-00
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

COLUMNS = ["task", "backbone", "image_size", "params", "mult_adds", "latency_ms", "train_seconds"]


def collect(folder: str | Path) -> list[dict[str, Any]]:
    """One row per results.json under `folder`: the COLUMNS, then `metric/<name>` for every test metric."""
    rows = []
    for path in sorted(Path(folder).rglob("results.json")):
        results = json.loads(path.read_text())
        row = {key: results.get(key) for key in COLUMNS}
        row.update({f"metric/{k}": v for k, v in results.get("metrics", {}).items()})
        row["run_dir"] = str(path.parent)
        rows.append(row)
    return rows


def _format(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "params":
        return f"{value / 1e6:.2f} M"
    if key == "mult_adds":
        return f"{value / 1e6:.0f} M"
    if isinstance(value, float):
        return f"{value:.4f}" if key.startswith("metric/") else f"{value:.1f}"
    return str(value)


def write_tables(folder: str | Path) -> tuple[Path, Path] | None:
    """Write comparison.csv and comparison.md into `folder`; None when it holds no results."""
    folder = Path(folder)
    rows = collect(folder)
    if not rows:
        return None
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(folder / "comparison.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    shown = [k for k in keys if k != "run_dir"]
    lines = ["| " + " | ".join(k.removeprefix("metric/") for k in shown) + " |",
             "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_format(k, row.get(k)) for k in shown) + " |" for row in rows]
    (folder / "comparison.md").write_text("\n".join(lines) + "\n")
    return folder / "comparison.csv", folder / "comparison.md"


class ComparisonTable(Callback):
    """Hydra callback: after a multirun, tabulate its runs in the sweep folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        written = write_tables(config.hydra.sweep.dir)
        if written:
            print(f"comparison table: {written[1]}\n{written[1].read_text()}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tasks.compare <folder with runs>")
    if write_tables(sys.argv[1]) is None:
        sys.exit(f"no results.json under {sys.argv[1]}")
    print((Path(sys.argv[1]) / "comparison.md").read_text())
