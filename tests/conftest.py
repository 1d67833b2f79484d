"""Shared fixtures: a private dataset cache per test session, and Hydra composition of the real conf/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from tasks.engine.config import compose

# The tests' models are tiny: one thread each avoids oversubscribing a small CI machine when DDP processes,
# dataloader workers and train.py subprocesses run side by side (OpenMP threads spin on a busy core).
USER_OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")  # for subprocesses that must run as a user runs them
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"

# Tiny dogs run: a few classes of small images, a couple of epochs, no worker processes.
TINY_DOGS = [
    "task=dogs",
    "data.generator={num_classes: 4, train_per_class: 16, test_per_class: 8, image_size: 48}",
    "data.image_size=32",
    "data.batch_size=16",
    "data.num_workers=0",
    "trainer.max_epochs=2",
    "trainer.log_every_n_steps=1",
    "latency_repeats=2",
    "callbacks.progress_bar.refresh_rate=0",
]

# Tiny detection runs on a small generated COCO-format dataset (SSD: TINY_SSD).
TINY_DETECTION = [
    "data.generator={train_images: 12, val_images: 6, min_side: 96, max_side: 112}",
    "data.image_size=96", "data.batch_size=4", "data.num_workers=0",
    "backbone.width_mult=0.25",
    "trainer.max_epochs=1", "trainer.log_every_n_steps=1", "latency_repeats=1",
    "callbacks.progress_bar.refresh_rate=0", "model.num_visualized=2",
]
TINY_SSD = ["task=ssd", "model.detector.size=96", *TINY_DETECTION]


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """Generated datasets go to a session folder, never to the user's cache."""
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("MOBILENET_SUITE_CACHE")
    os.environ["MOBILENET_SUITE_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("MOBILENET_SUITE_CACHE", None)
    else:
        os.environ["MOBILENET_SUITE_CACHE"] = old


def run_default(task: str, run_dir: Path, *overrides: str) -> tuple[dict, float]:
    """`python train.py task=<task> [overrides]` with its defaults, as a user runs it (the user's thread settings,
    not the one thread per process the tests pin): (its results.json, wall seconds)."""
    import json
    import subprocess
    import sys
    import time
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if USER_OMP_NUM_THREADS is not None:
        env["OMP_NUM_THREADS"] = USER_OMP_NUM_THREADS
    start = time.perf_counter()
    subprocess.run([sys.executable, "train.py", f"task={task}", *overrides, f"hydra.run.dir={run_dir}"], cwd=REPO,
                   check=True, env=env)
    return json.loads((run_dir / "results.json").read_text()), time.perf_counter() - start


def compose_config(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """conf/config.yaml composed as train.py would, with the run directory set to `output_dir`."""
    extra = [f"paths.output_dir={output_dir}"] if output_dir is not None else []
    return compose([*overrides, *extra])


def tiny_overrides(task: str) -> list[str]:
    """A few-second training run of each task (tiny data, one or two epochs), as the tests use them."""
    if task == "dogs":
        return [*TINY_DOGS, "logger=none"]
    if task == "ssd":
        return [*TINY_SSD, "logger=none"]
    if task == "faster_rcnn":
        return ["task=faster_rcnn", "model.detector.min_size=96", "model.detector.max_size=112", *TINY_DETECTION,
                "logger=none"]
    if task == "face_attributes":
        from test_deploy import TINY_ATTRIBUTES
        return [*TINY_ATTRIBUTES, "logger=none"]
    if task == "face_embedding":
        from test_face_embedding import TINY_IDENTITIES
        return ["task=face_embedding_teacher", *TINY_IDENTITIES, "logger=none"]
    if task == "geolocation":
        from test_geolocation import TINY_WORLD
        return [*TINY_WORLD, "logger=none"]
    raise KeyError(task)


TINY_TASKS = ("dogs", "ssd", "faster_rcnn", "face_attributes", "face_embedding", "geolocation")
# Export formats whose lowering takes 10-40 s per network (ExecuTorch, LiteRT): the default run covers a classifier
# and both detectors; the other tasks' networks (a classifier's path with other heads) run with -m slow.
EXPORT_TASKS = [task if task in ("dogs", "ssd", "faster_rcnn") else pytest.param(task, marks=pytest.mark.slow)
                for task in TINY_TASKS]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """tiny_run(task) -> that task's tiny run's results.json (trained once per test session, shared by modules)."""
    from tasks.engine.run import train_and_test
    runs: dict[str, dict] = {}

    def get(task: str) -> dict:
        if task not in runs:
            runs[task] = train_and_test(compose_config(tiny_overrides(task), tmp_path_factory.mktemp(f"tiny_{task}")))
        return runs[task]
    return get
