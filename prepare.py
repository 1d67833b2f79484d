"""Write a dataset's training split as LitData shards: `python prepare.py task=dogs prepare.out=shards/dogs`
(see conf/prepare.yaml, docs/data.md#shards and `python prepare.py --help`)."""
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from tasks.engine.errors import fail, guard
from tasks.engine.prepare import prepare_shards

os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # Hydra re-raises; guard() prints the one line and keeps the traceback


@hydra.main(version_base="1.3", config_path="conf", config_name="prepare")
def main(cfg: DictConfig) -> None:
    try:
        prepare_shards(cfg)
    except Exception as error:  # one line here: re-raised, Hydra would print its own line before it
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # an array job: the launcher reports the failed part
        fail(error, "prepare")


if __name__ == "__main__":
    guard("prepare", main)
