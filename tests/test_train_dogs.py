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


def test_predictions(cfg, out) -> tuple[np.ndarray, np.ndarray]:
    """(logits, labels) of the test split, predicted by the reloaded best.ckpt ourselves."""
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
    return torch.cat(logits).numpy(), torch.cat(labels).numpy()


test_predictions.__test__ = False  # a helper, not a test


def test_metrics_match_sklearn_on_the_reloaded_best_checkpoint(tiny_run):
    """Reload best.ckpt, predict the test split ourselves, and score it with sklearn."""
    cfg, results, out = tiny_run
    scores, labels = test_predictions(cfg, out)
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

    assert proc.returncode == 128 + signal.SIGINT and "interrupted by SIGINT" in log
    done = run_train([*TINY_DOGS, "trainer.max_epochs=40", f"hydra.run.dir={run_dir}", "resume=last",
                      "trainer.max_steps=" + str(step + 2), "resume_allow_changes=true"])
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


def test_per_class_accuracy_matches_sklearns_confusion_matrix(tiny_run):
    """results.json `per_class`: each class's accuracy and test images, by name, equal to sklearn's confusion
    matrix of the reloaded best checkpoint's test predictions; the matrix is drawn into the run folder."""
    from sklearn.metrics import confusion_matrix
    cfg, results, out = tiny_run
    scores, labels = test_predictions(cfg, out)
    matrix = confusion_matrix(labels, scores.argmax(1), labels=np.arange(4))
    names = ClassificationTask.load_from_checkpoint(
        out / "checkpoints" / "best.ckpt", backbone=instantiate(cfg.backbone, _convert_="all")).class_names
    saved = json.loads((out / "results.json").read_text())["per_class"]
    assert list(saved) == names and not names[0].isdigit()  # breed names, in class order
    for i, name in enumerate(names):
        assert saved[name]["support"] == matrix[i].sum() == 8
        assert saved[name]["accuracy"] == pytest.approx(matrix[i, i] / matrix[i].sum(), abs=1e-6)
    assert results["plots"] == [str(out / "confusion_matrix.png")] and (out / "confusion_matrix.png").is_file()


@pytest.mark.parametrize("classes, numbered", [(4, True), (120, False)])
def test_confusion_plot_numbers_cells_only_for_few_classes(tmp_path, monkeypatch, classes, numbered):
    """Up to 20 classes every non-empty cell shows its count; 120 classes (Stanford Dogs) are colours only, with
    a figure large enough for 120 legible names."""
    import tasks.classification as classification
    drawn = {}

    def keep(fig, path, dpi=120):
        drawn.update(texts=[t for ax in fig.axes for t in ax.texts], size=fig.get_size_inches(), dpi=dpi)
        return path
    monkeypatch.setattr(classification, "save_figure", keep)
    confusion = torch.randint(0, 5, (classes, classes))
    confusion[0] = 0  # a class without test images
    classification.plot_confusion(confusion, [f"class_{i}" for i in range(classes)], tmp_path / "c.png")
    assert len(drawn["texts"]) == (int((confusion > 0).sum()) if numbered else 0)
    assert min(drawn["size"]) * drawn["dpi"] >= (500 if numbered else 2000)
    per_class = classification.per_class_accuracy(confusion, [f"class_{i}" for i in range(classes)])
    assert per_class["class_0"] == {"accuracy": None, "support": 0}


def test_training_curves_of_a_run(tiny_run):
    """<run>/training_curves.png from the run's own csv/metrics.csv: per-epoch training loss (mean of the logged
    steps) and the monitored validation metric, read back as the log holds them."""
    import csv

    from tasks.engine.curves import metric_curve, write_training_curves
    cfg, results, out = tiny_run
    path = write_training_curves(out)
    assert path == out / "training_curves.png" and path.stat().st_size > 0
    with open(out / "csv" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    validation = [(int(r["epoch"]) + 1, float(r["val/top1"])) for r in rows if r.get("val/top1")]
    assert metric_curve(out / "csv" / "metrics.csv", "val/top1") == ([e for e, _ in validation],
                                                                     [v for _, v in validation])
    assert [e for e, _ in validation] == [1, 2]
    losses = [(int(r["epoch"]), float(r["train/loss"])) for r in rows if r.get("train/loss")]
    epochs, means = metric_curve(out / "csv" / "metrics.csv", "train/loss")
    assert epochs == [1, 2] and means == pytest.approx(
        [np.mean([v for e, v in losses if e == epoch - 1]) for epoch in epochs])


def test_training_curves_from_a_hand_written_log(tmp_path):
    from tasks.engine.curves import metric_curve, write_training_curves
    assert write_training_curves(tmp_path) is None  # no csv log (logger=none)
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "metrics.csv").write_text(
        "epoch,step,train/loss,val/mean_ap,lr-AdamW\n"
        ",0,,,0.001\n"
        "0,0,2.0,,\n"
        "0,1,1.0,,\n"
        "0,1,,0.25,\n"
        "1,2,0.5,,\n"
        "1,3,nan,,\n"
        "1,3,,0.5,\n"
        "2,4,0.25,,\n")  # epoch 3 not validated
    (tmp_path / "config_resolved.yaml").write_text(
        "task_name: face_attributes\nmonitor:\n  metric: null\n  mode: max\nheadline:\n  metric: mean_ap\n")
    assert metric_curve(tmp_path / "csv" / "metrics.csv", "train/loss") == ([1, 2, 3], [1.5, 0.5, 0.25])
    assert metric_curve(tmp_path / "csv" / "metrics.csv", "val/mean_ap") == ([1, 2], [0.25, 0.5])
    assert metric_curve(tmp_path / "csv" / "metrics.csv", "val/top1") is None
    path = write_training_curves(tmp_path)  # monitor null: the validated headline, val/mean_ap
    assert path == tmp_path / "training_curves.png" and path.is_file()


NOISE = ("litlogger", "LeafSpec", "weights_only", "was called without a model", "no last checkpoint available",
         "to estimate number of stepping batches", "\x1b[A", "\r")


def test_output_to_a_file_is_one_line_per_epoch_without_noise(tmp_path):
    """train.py with its output going to a pipe (a log file, CI, SLURM): one line per epoch instead of redrawn
    tqdm bars, and none of the library messages a user cannot act on."""
    import re
    tiny = [o for o in TINY_DOGS if not o.startswith("callbacks.progress_bar.refresh_rate")]  # progress shown
    done = run_train([*tiny, f"hydra.run.dir={tmp_path}"])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2, output[-3000:]
    assert re.fullmatch(r"epoch 1/2: 3 steps, loss \d+\.\d{4}, val/top1 \d\.\d{4}, \d+\.\d s", lines[0]), lines
    assert re.fullmatch(r"epoch 2/2: 3 steps, loss \d+\.\d{4}, val/top1 \d\.\d{4}( \(best \d\.\d{4}\))?, "
                        r"\d+\.\d s", lines[1]), lines
    assert [noise for noise in NOISE if noise in output] == []


def test_quiet_filters_drop_only_the_known_messages():
    """The filters match their messages exactly: other lines of the same loggers and other warnings still show."""
    import logging
    import warnings

    from tasks.core.quiet import install
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("pytorch_lightning.trainer.connectors.checkpoint_connector")
    logger.addHandler(handler)
    old_level, logger.level = logger.level, logging.INFO
    try:
        install()
        logger.info("`weights_only` was not set, defaulting to `False`.")
        logger.info("Restoring states from the checkpoint path at best.ckpt")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert [r.getMessage() for r in records] == ["Restoring states from the checkpoint path at best.ckpt"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        install()
        warnings.warn('.fit(ckpt_path="last") is set, but there is no last checkpoint available. No checkpoint '
                      'will be loaded.', UserWarning)
        warnings.warn("`.fit(ckpt_path=None)` was called without a model. The last model of the previous `fit` "
                      "call will be used.", UserWarning)
        warnings.warn("The number of training batches (3) is smaller than the logging interval", UserWarning)
    assert [str(w.message) for w in caught] == ["The number of training batches (3) is smaller than the logging "
                                                "interval"]


def test_progress_bar_follows_the_terminal():
    from pytorch_lightning.callbacks import TQDMProgressBar

    from tasks.core.progress import EpochLines, progress_bar
    assert isinstance(progress_bar(10, "val/top1", lines=False), TQDMProgressBar)
    assert isinstance(progress_bar(10, "val/top1", lines=True), EpochLines)
    assert progress_bar(0, None, lines=True).is_disabled and progress_bar(0, None, lines=False).is_disabled


def test_run_name_follows_the_data():
    """task=dogs on Stanford Dogs is "dogs"; on a user's own folder of classes it is "classification" (run
    folders, results.json, comparison tables)."""
    from conftest import compose_config as compose
    from tasks.engine.config import compose as compose_with_hydra
    assert compose(["task=dogs"]).task_name == "dogs"
    own = compose_with_hydra(["task=dogs", "data=image_folder", "data.root=/my/photos"], return_hydra_config=True)
    assert own.task_name == "classification" and own.hydra.run.dir.startswith("outputs/classification/")


@pytest.mark.slow
def test_default_run_meets_its_time_budget_and_accuracy(tmp_path):
    """`python train.py task=dogs` with the defaults (dataset generated and decoded into the tests' fresh cache):
    within the five-minute budget and far above chance (4.2 %). It runs with the user's thread settings."""
    from conftest import run_default
    results, seconds = run_default("dogs", tmp_path)
    assert seconds <= 300 and results["metrics"]["top1"] >= 0.25, (seconds, results["metrics"])
