"""Train and test one task: `python train.py task=dogs` (see README.md, docs/ and `python train.py --help`)."""
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from tasks.engine.compare import record_failure
from tasks.engine.errors import fail, guard
from tasks.engine.run import train_and_test

os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # Hydra re-raises; guard() prints the one line and keeps the traceback


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    try:
        results = train_and_test(cfg, hydra_cfg.overrides.task, hydra_cfg.runtime.choices)
    except Exception as error:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # the sweep goes on; its ComparisonReport records the failure and the sweep ends non-zero
        record_failure(cfg.paths.output_dir, cfg, error)
        fail(error, "train", cfg.paths.output_dir)
    return results.get("metrics", {}).get(cfg.headline.metric)  # the headline: what optimizing sweepers maximize


if __name__ == "__main__":
    guard("train", main)
