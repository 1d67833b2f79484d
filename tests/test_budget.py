"""budget.py: pick (alpha, image size) for a latency budget from untrained models exported and timed in a runtime."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from tasks.engine.budget import Row, markdown, sweep_commands

REPO = Path(__file__).resolve().parents[1]


def _entry_point():
    spec = importlib.util.spec_from_file_location("budget_entry", REPO / "budget.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _swept(commands: list[str]) -> set[tuple[float, int]]:
    """The (width, size) pairs a list of `python train.py -m` commands trains."""
    pairs = set()
    for command in commands:
        widths = re.search(r"backbone\.width_mult=(\S+)", command).group(1).split(",")
        sizes = re.search(r"data\.image_size=(\S+)", command).group(1).split(",")
        pairs |= {(float(w), int(s)) for w in widths for s in sizes}
    return pairs


def test_budget_dogs_onnxruntime(tmp_path: Path, capsys):
    budget_ms = 0.15  # about the middle of the tiny grid's latencies on a small CPU (either way the checks hold)
    _entry_point().main(["task=dogs", "runtime=onnxruntime", f"budget_ms={budget_ms}", "widths=[0.25,0.5]",
                         "sizes=[64,96]", "repeats=2", "threads=1", f"out={tmp_path}"])
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "budget.json").read_text())
    assert (tmp_path / "budget.md").read_text() in printed
    rows = {(r["width"], r["size"]): r for r in result["rows"]}
    assert sorted(rows) == [(0.25, 64), (0.25, 96), (0.5, 64), (0.5, 96)]
    assert all(r["latency_ms"] > 0 and r["params"] > 0 for r in rows.values())
    for w in (0.25, 0.5):  # mult-adds grow with the image size (rho^2) ...
        assert rows[(w, 64)]["mult_adds"] < rows[(w, 96)]["mult_adds"]
    for s in (64, 96):     # ... and with the width (alpha^2); params with the width only
        assert rows[(0.25, s)]["mult_adds"] < rows[(0.5, s)]["mult_adds"]
        assert rows[(0.25, s)]["params"] < rows[(0.5, s)]["params"]
    assert rows[(0.5, 64)]["params"] == rows[(0.5, 96)]["params"]
    fitting = {k for k, r in rows.items() if r["latency_ms"] <= budget_ms}
    assert all(r["fits"] == (k in fitting) for k, r in rows.items())
    for (w, s), r in rows.items():  # the printed table: one row per configuration, its fits column
        line = re.search(rf"\| {w:g} \| {s} \| .* \| (yes|no) \|", printed)
        assert line and line.group(1) == ("yes" if r["fits"] else "no")
    commands = [line.strip() for line in printed.splitlines() if line.strip().startswith("python train.py -m")]
    assert commands == result["commands"]
    assert _swept(commands) == fitting
    assert all(c.startswith("python train.py -m task=dogs ") for c in commands)


def test_sweep_commands_grid_and_per_width():
    assert sweep_commands("dogs", []) == []
    assert sweep_commands("dogs", [(1, 128)]) == [  # a width Hydra reads back as a float
        "python train.py -m task=dogs backbone.width_mult=1.0 data.image_size=128"]
    assert sweep_commands("dogs", [(0.25, 128), (0.25, 160), (0.5, 128), (0.5, 160)], ["model.dropout=0.1"]) == [
        "python train.py -m task=dogs model.dropout=0.1 backbone.width_mult=0.25,0.5 data.image_size=128,160"]
    fitting = [(0.25, 128), (0.25, 160), (0.5, 128)]  # not a grid: one command per width
    commands = sweep_commands("ssd", fitting)
    assert commands == ["python train.py -m task=ssd backbone.width_mult=0.25 data.image_size=128,160",
                        "python train.py -m task=ssd backbone.width_mult=0.5 data.image_size=128"]
    assert _swept(commands) == set(fitting)
    rows = [Row(0.25, 128, 10, 1, 1.0, True).__dict__, Row(1.0, 224, 500, 4, 9.0, False).__dict__]
    text = markdown({"task": "dogs", "budget_ms": 2.0, "runtime": "onnxruntime", "format": "onnx", "int8": False,
                     "batch": 1, "threads": 2, "repeats": 20, "cpu": "cpu", "rows": rows,
                     "commands": commands, "best": {"width": 0.25, "size": 128}})
    assert "| 0.25 | 128 |" in text and "| no |" in text and commands[1] in text


@pytest.mark.parametrize("argv, message", [
    (["task=dogs", "budget_ms=-1"], "error: budget_ms=-1: must be a number of milliseconds > 0"),
    (["task=dogs", "budget_ms=2", "sizes=[0]"], "error: sizes=[0]: must be a list of image sizes"),
    (["task=dogs", "budget_ms=2", "runtime=tflite"], "error: runtime=tflite: not a runtime"),
    (["task=dogs", "budget_ms=2", "backbone.width_mult=0.5"], "error: backbone.width_mult=0.5: the grid sets it"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys):
    from tasks.engine.errors import guard
    entry = _entry_point()
    with pytest.raises(SystemExit) as exited:
        guard("budget", lambda: entry.main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
