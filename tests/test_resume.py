"""Resuming from the run folder alone: a killed run continues with its saved config, its metrics.csv keeps every
epoch exactly once, overrides that differ are refused (or applied on request), a SIGTERM says so and exits
non-zero, and a checkpoint of another model is refused in one line."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_DOGS, compose_config
from tasks.engine.config import ConfigError
from tasks.engine.run import train_and_test

EPOCHS = 40  # tiny epochs (3 steps): the kill lands mid-run


def start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "train.py", *TINY_DOGS, f"trainer.max_epochs={EPOCHS}", *extra,
                             f"hydra.run.dir={run_dir}"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_epoch(run_dir: Path, proc: subprocess.Popen, epoch: int) -> None:
    """Until last.ckpt holds `epoch` finished epochs (the run is then in the middle of the next one)."""
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if last.is_file():
            try:
                if torch.load(last, map_location="cpu", weights_only=True)["epoch"] >= epoch - 1:
                    return
            except Exception:  # being written
                pass
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint of epoch {epoch}: {proc.communicate()[1][-3000:]}")


def epochs_logged(run_dir: Path, column: str = "val/top1") -> Counter:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return Counter(int(row["epoch"]) for row in csv.DictReader(f) if row.get(column))


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_kill_9_then_resume_from_the_folder_alone_keeps_every_epoch_once(tmp_path):
    run_dir = tmp_path / "run"
    proc = start(run_dir)
    wait_for_epoch(run_dir, proc, 2)
    proc.kill()
    proc.wait()
    assert not (run_dir / "results.json").exists()
    before = epochs_logged(run_dir)
    assert before and max(before) >= 1

    done = train(f"hydra.run.dir={run_dir}", "resume=last")  # no task, no overrides: all from the folder
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == "dogs" and results["start_step"] > 0 and results["epochs"] == EPOCHS
    assert results["resumed_from"].endswith("last.ckpt")
    assert epochs_logged(run_dir) == Counter(range(EPOCHS)), epochs_logged(run_dir)
    assert epochs_logged(run_dir, "train/loss_epoch") in (Counter(range(EPOCHS)), Counter())
    assert len(list((run_dir / "tensorboard").glob("events.*"))) >= 2  # the first run's events are kept
    hydra_dirs = list((run_dir / ".hydra").glob("resumed_*"))
    assert len(hydra_dirs) == 1 and "resume=last" in (hydra_dirs[0] / "overrides.yaml").read_text()
    assert "trainer.max_epochs=40" in (run_dir / ".hydra" / "overrides.yaml").read_text()  # the original kept

    # an override that differs from the saved config is refused, in one line naming it
    refused = train(f"hydra.run.dir={run_dir}", "resume=last", "trainer.max_epochs=42", "data.batch_size=16")
    assert refused.returncode == 2
    lines = error_lines(refused)
    assert len(lines) == 1 and "trainer.max_epochs" in lines[0] and "resume_allow_changes=true" in lines[0]
    assert "batch_size" not in lines[0]  # the same value as saved is no difference

    # ... and applied when asked: two more epochs, the history still once per epoch, the old config kept
    more = train(f"hydra.run.dir={run_dir}", "resume=last", "trainer.max_epochs=42", "resume_allow_changes=true")
    assert more.returncode == 0, more.stderr[-3000:]
    assert epochs_logged(run_dir) == Counter(range(42))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["resume_changes"] == ["trainer.max_epochs"] and results["epochs"] == 42
    assert "max_epochs: 40" in (run_dir / "config_resolved.1.yaml").read_text()
    assert "max_epochs: 42" in (run_dir / "config_resolved.yaml").read_text()


def test_sigterm_says_so_and_exits_non_zero(tmp_path):
    run_dir = tmp_path / "run"
    proc = start(run_dir, "trainer.max_epochs=200")
    wait_for_epoch(run_dir, proc, 1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert "interrupted by SIGTERM" in stderr and f"hydra.run.dir={run_dir} resume=last" in stderr
    assert (run_dir / "checkpoints" / "interrupted.ckpt").is_file()
    failure = json.loads((run_dir / "failure.json").read_text())
    assert failure["status"] == "interrupted"
    assert not (run_dir / "results.json").exists()


def test_a_run_stopped_in_process_puts_the_signal_handlers_back(tmp_path):
    """In one process (the Python API; a teacher stage, then its student): Ctrl+C mid-step stops the run after that
    step, and the signal handlers are those from before it."""
    from tasks.engine.errors import RunInterrupted
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    cfg = compose_config([*TINY_DOGS, "logger=none", "+callbacks.probe._target_=resume_probe.Probe",
                          f"+callbacks.probe.file={tmp_path / 'steps.jsonl'}", "+callbacks.probe.signal_at_step=1",
                          "+callbacks.probe.signal=SIGINT"], tmp_path / "run")
    with pytest.raises(RunInterrupted, match="interrupted by SIGINT at epoch 0, step 2: wrote "):
        train_and_test(cfg)
    assert {s: signal.getsignal(s) for s in before} == before


def test_an_interrupted_run_reaches_a_sweeps_launcher_intact():
    """A sweep's job hands its error back pickled (submitit): an interrupted run's error must come back whole."""
    import pickle

    from tasks.engine.errors import RunInterrupted, one_line
    error = pickle.loads(pickle.dumps(RunInterrupted("interrupted by SIGTERM at epoch 1, step 9: ...", signal.SIGTERM)))
    assert error.signum == signal.SIGTERM and one_line(error) == "interrupted by SIGTERM at epoch 1, step 9: ..."


def test_resume_from_another_model_is_one_line(tmp_path):
    first = train_and_test(compose_config([*TINY_DOGS, "trainer.max_epochs=1", "logger=none"], tmp_path / "a"))
    wider = compose_config([*TINY_DOGS, "backbone=mobilenet_v1_050", f"resume={first['checkpoints'][0]}",
                            "logger=none"], tmp_path / "b")
    with pytest.raises(ConfigError, match=r"holds a dogs / mobilenet_v1_0.25 model but this run builds dogs / "
                                          r"mobilenet_v1_0.5; \d+ tensors differ in shape"):
        train_and_test(wider)


def test_csv_log_continues_and_drops_only_the_redone_rows(tmp_path):
    """Unit check of the logger: rows before the resumed step stay, rows at or after it are replaced."""
    from tasks.core.loggers import CSVLogger
    first = CSVLogger(tmp_path, name="csv", version="", flush_logs_every_n_steps=1)
    for step in range(10):
        first.log_metrics({"train/loss": float(step), "epoch": step // 4}, step)
    first.log_metrics({"val/top1": 0.5, "epoch": 0}, 3)
    first.finalize("success")
    resumed = CSVLogger(tmp_path, name="csv", version="", flush_logs_every_n_steps=1)
    resumed.log_metrics({"train/loss": 100.0 + 6, "epoch": 1, "lr": 0.1}, 6)  # resumed at step 6, a new column
    resumed.log_metrics({"train/loss": 100.0 + 7, "epoch": 1}, 7)
    resumed.finalize("success")
    with open(tmp_path / "csv" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    losses = [(int(r["step"]), float(r["train/loss"])) for r in rows if r["train/loss"]]
    assert losses == [*((s, float(s)) for s in range(6)), (6, 106.0), (7, 107.0)]
    assert [r["val/top1"] for r in rows if r["val/top1"]] == ["0.5"] and "lr" in rows[0]
