"""prepare.py: a task's data, split as a training run splits it, written as LitData shards (data.shards)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from .config import ConfigError

log = logging.getLogger(__name__)


def prepare_shards(cfg: DictConfig) -> dict[str, Any]:
    """Write `cfg.prepare.splits` of the data `cfg.data` describes into `cfg.prepare.out` (one part with
    prepare.part); return {split: folder or None (a part only)} and print what to train with."""
    options = cfg.prepare
    if cfg.data.get("source", "files") != "files":
        raise ConfigError("prepare.py reads the files: leave data.source=files (shards are what it writes)")
    overrides = {"decode_cache_gb": 0} if "decode_cache_gb" in cfg.data else {}  # it reads each file once: no cache
    datamodule = instantiate(cfg.data, _convert_="all", **overrides)
    if not hasattr(datamodule, "write_shards"):
        raise ConfigError(f"{cfg.data._target_}: this data cannot be written as shards yet")
    out = Path(options.out).expanduser().resolve()
    written = {}
    for split in options.splits:
        if split not in ("train", "val", "test"):
            raise ConfigError(f"prepare.splits: {split!r} is not a split (train, val, test)")
        written[split] = datamodule.write_shards(
            out, split, short_side=options.short_side, quality=options.quality, part_size=options.part_size,
            num_workers=options.num_workers, seed=cfg.seed, part=options.part)
    if options.part is None:
        print(f"shards written to {out}: train with python train.py task={cfg.task_name} data.source=shards "
              f"data.shards={out} (and the same data settings)", flush=True)
    return written
