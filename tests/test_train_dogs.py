"""The dogs task end to end on a tiny generated dataset: train, test, results.json, checkpoints, logs, resume,
reproducibility, interruption and 2-process DDP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from sklearn.metrics import accuracy_score, top_k_accuracy_score

from tasks.classification import ClassificationTask
from tasks.engine.config import ConfigError
from tasks.engine.run import train_and_test

from conftest import REPO, TINY_DOGS, compose_config

TRAIN_STEPS_PER_EPOCH = 3  # 4 classes x 16 images, 10% held out -> 56 train images, batch 16, drop_last


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dogs_run")
    cfg = compose_config(TINY_DOGS, out)
    return cfg, train_and_test(cfg), out


def test_results_json_and_run_files(tiny_run):
    cfg, results, out = tiny_run
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert {"task", "backbone", "image_size", "metrics", "params", "mult_adds", "latency_ms"} <= set(saved)
    assert saved["task"] == "dogs" and saved["backbone"] == "mobilenet_v1_0.25" and saved["image_size"] == 32
    assert set(saved["metrics"]) == {"top1", "top5", "loss"}
    assert 0 <= saved["metrics"]["top1"] <= saved["metrics"]["top5"] <= 1
    assert saved["global_step"] == 2 * TRAIN_STEPS_PER_EPOCH and saved["start_step"] == 0
    assert saved["latency_ms"] > 0 and saved["params"] > 0
    # mult-adds at 32 px: MobileNetV1 scales with resolution squared (Table 7), plus the 4-class classifier
    assert saved["mult_adds"] == pytest.approx(41.03e6 * (32 / 224) ** 2, rel=0.05)
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "checkpoints" / "best.ckpt").is_file()
    assert saved["tested_checkpoint"] == str(out / "checkpoints" / "best.ckpt")
    assert (out / "csv" / "metrics.csv").is_file()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert "task_name: dogs" in (out / "config_resolved.yaml").read_text()


def test_metrics_match_sklearn_on_the_reloaded_best_checkpoint(tiny_run):
    """Reload best.ckpt, predict the test split ourselves, and score it with sklearn."""
    cfg, results, out = tiny_run
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("test")
    model = ClassificationTask.load_from_checkpoint(out / "checkpoints" / "best.ckpt",
                                                    backbone=instantiate(cfg.backbone, _convert_="all"))
    model.eval()
    logits, labels = [], []
    with torch.no_grad():
        for images, y in datamodule.test_dataloader():
            logits.append(model(images))
            labels.append(y)
    scores, labels = torch.cat(logits).numpy(), torch.cat(labels).numpy()
    assert len(labels) == 4 * 8
    top1 = accuracy_score(labels, scores.argmax(1))
    top5 = top_k_accuracy_score(labels, scores, k=4, labels=np.arange(4))  # top-5 of 4 classes is top-4
    assert results["metrics"]["top1"] == pytest.approx(top1, abs=1e-6)
    assert results["metrics"]["top5"] == pytest.approx(top5, abs=1e-6) == 1.0


def test_resume_continues_at_the_checkpoint_step(tiny_run, tmp_path):
    cfg, results, out = tiny_run
    resumed = train_and_test(compose_config([*TINY_DOGS, "trainer.max_epochs=3",
                                             f"resume={out / 'checkpoints' / 'last.ckpt'}"], tmp_path))
    assert resumed["start_step"] == 2 * TRAIN_STEPS_PER_EPOCH
    assert resumed["global_step"] == 3 * TRAIN_STEPS_PER_EPOCH and resumed["epochs"] == 3


def test_seeded_run_is_reproducible_also_without_loggers(tiny_run, tmp_path):
    cfg, results, out = tiny_run
    again = train_and_test(compose_config([*TINY_DOGS, "logger=none"], tmp_path))
    assert again["metrics"] == results["metrics"]
    assert not list(tmp_path.rglob("metrics.csv")) and list(out.rglob("metrics.csv"))


def test_seeded_run_is_reproducible_when_streaming(tmp_path):
    """The same with the decoded cache off (decoding and augmenting in the loader, as for large datasets)."""
    streaming = [*TINY_DOGS, "data.decode_cache_gb=0", "logger=none"]
    first = train_and_test(compose_config(streaming, tmp_path / "a"))
    assert first["metrics"] == train_and_test(compose_config(streaming, tmp_path / "b"))["metrics"]


def test_resume_last_without_checkpoint_says_how(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found.*hydra.run.dir"):
        train_and_test(compose_config([*TINY_DOGS, "resume=last"], tmp_path))


def run_train(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "train.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, **kwargs)


def test_interrupt_then_resume_last(tmp_path):
    """Ctrl+C mid-training leaves checkpoints/interrupted.ckpt; resume=last continues from its step."""
    run_dir = tmp_path / "run"
    args = [*TINY_DOGS, "trainer.max_epochs=40", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert last.exists(), proc.communicate()[0][-3000:]
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    log = proc.communicate(timeout=120)[0]
    interrupted = run_dir / "checkpoints" / "interrupted.ckpt"
    assert interrupted.is_file(), log[-3000:]
    step = torch.load(interrupted, map_location="cpu", weights_only=False)["global_step"]
    assert 0 < step < 40 * TRAIN_STEPS_PER_EPOCH
    assert not (run_dir / "results.json").exists()

    done = run_train([*TINY_DOGS, "trainer.max_epochs=40", f"hydra.run.dir={run_dir}", "resume=last",
                      "trainer.max_steps=" + str(step + 2)])
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["start_step"] == step and results["global_step"] == step + 2
    assert results["resumed_from"] == str(interrupted)


def test_ddp_two_cpu_processes(tmp_path):
    """trainer=ddp with gloo on the CPU: two processes, one results.json, metrics from all test images."""
    done = run_train([*TINY_DOGS, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                      f"hydra.run.dir={tmp_path}"])
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0 <= results["metrics"]["top1"] <= 1
    # each process sees half the batches: 3 train steps per epoch -> 1 (56 images / 2 ranks / 16, drop_last)
    assert results["global_step"] == 2 * 1
    assert "distributed_backend=gloo" in done.stdout + done.stderr


@pytest.mark.slow
def test_default_run_meets_its_time_budget_and_accuracy(tmp_path):
    """`python train.py task=dogs` with the defaults (dataset generated and decoded into the tests' fresh cache):
    within the five-minute budget and far above chance (4.2 %). It runs with the user's thread settings."""
    from conftest import run_default
    results, seconds = run_default("dogs", tmp_path)
    assert seconds <= 300 and results["metrics"]["top1"] >= 0.25, (seconds, results["metrics"])
