"""Train and test one task: `python train.py task=dogs` (see README.md and conf/)."""
import hydra
from omegaconf import DictConfig

from tasks.engine.run import train_and_test


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    results = train_and_test(cfg)
    return results.get("metrics", {}).get(cfg.headline.metric)  # the headline: what optimizing sweepers maximize


if __name__ == "__main__":
    main()
