"""Training throughput of a task's default configuration: data pipeline alone, model step alone, and both together.

For each task and data pipeline, in one process:
- data only:      the training DataLoader and the data module's batch hooks (`on_before_batch_transfer`: decoding
                  the shards' JPEGs; `on_after_batch_transfer`: the on-device augmentation),
                  nothing else running (its batches, kept from a first pass, are the preloaded ones);
- preloaded step: Lightning's training loop (the task's trainer, loggers and optimizer) over batches that were
                  loaded and augmented beforehand and sit in memory: the model's own speed;
- full loop:      the same loop reading the data module, as `python train.py` runs it.
Images per second over the same number of steps after a warm-up (the timer starts at the first batch after
`--warmup` steps, so trainer start-up and worker start-up are not counted), and the ratio full / preloaded: 1.0
means the data pipeline costs the training loop nothing. The three measurements alternate for `--rounds` rounds
(the medians are reported), so a change in the machine's load hits them alike.

    python benchmarks/train_throughput.py                          # dogs and ssd defaults, cached vs streaming
    python benchmarks/train_throughput.py --tasks dogs --pipelines cached --steps 40
    python benchmarks/train_throughput.py --tasks dogs --override model.channels_last=false

`--pipelines streaming` sets data.decode_cache_gb=0: decoding and augmenting in DataLoader workers every epoch;
`--pipelines shards` writes the training split as LitData shards first (prepare.py's path, into a temporary folder,
not timed) and trains from them (data.source=shards: workers read, the batch is decoded and augmented in the
training process).
    python benchmarks/train_throughput.py --tasks dogs --pipelines cached shards [--shard-side 146]
"""
from __future__ import annotations

import copy
import statistics
import tempfile
import time

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from tasks.engine.config import ConfigError, compose
from tasks.engine.cli import ArgumentParser
from tasks.engine.errors import guard

PIPELINES = {"cached": [], "streaming": ["data.decode_cache_gb=0"], "shards": ["data.source=shards"]}


class StepTimer(pl.Callback):
    """Wall time from the start of batch `warmup` to the end of the last batch, and the images in between."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.images = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.start is not None:
            self.images += len(batch[0])
            self.end = time.perf_counter()

    @property
    def images_per_second(self) -> float:
        return self.images / (self.end - self.start)


def compose_task(task: str, overrides: list[str]):
    return compose([f"task={task}", *overrides])


def fit_timed(cfg, model, warmup: int, steps: int, train_dataloaders=None, datamodule=None) -> float:
    """Images/s of `steps` training steps after `warmup`, in the task's trainer with its loggers."""
    timer = StepTimer(warmup)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[timer], max_epochs=-1,
                          max_steps=warmup + steps, limit_val_batches=0, num_sanity_val_steps=0,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, train_dataloaders=train_dataloaders, datamodule=datamodule)
    return timer.images_per_second


def data_only(datamodule, warmup: int, steps: int, keep: bool = False) -> tuple[float, list]:
    """Images/s of the training batches alone (loader + on-device augmentation, over as many epochs as it takes),
    and the batches read if `keep`."""
    kept, count, images, start = [], 0, 0, None
    while count < warmup + steps:
        for batch in datamodule.train_dataloader():
            if count == warmup:
                start = time.perf_counter()
            batch = datamodule.on_after_batch_transfer(datamodule.on_before_batch_transfer(batch, 0), 0)
            count += 1
            if keep:
                kept.append(batch)
            if start is not None:
                images += len(batch[0])
            if count == warmup + steps:
                break
    return images / (time.perf_counter() - start), kept


def measure(task: str, pipeline: str, args, out_dir: str) -> dict:
    extra = []
    if pipeline == "shards":  # written once, outside the timing
        files = instantiate(compose_task(task, [f"paths.output_dir={out_dir}", *args.override]).data, _convert_="all")
        if not hasattr(files, "write_shards"):
            raise ConfigError(f"--pipelines shards: the {task} data cannot be written as shards yet")
        folder = files.write_shards(f"{out_dir}/shards_{task}", "train", num_workers=2, short_side=args.shard_side)
        extra = [f"data.shards={folder.parent}"]
    cfg = compose_task(task, [*PIPELINES[pipeline], *extra, f"paths.output_dir={out_dir}", *args.override])
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    kwargs = {"num_classes": datamodule.num_classes} if hasattr(datamodule, "num_classes") else {}
    model = instantiate(cfg.model, _convert_="all", backbone=instantiate(cfg.backbone, _convert_="all"), **kwargs)
    _, batches = data_only(datamodule, args.warmup, args.steps, keep=True)
    preloaded = DataLoader(batches, batch_size=None, shuffle=False)  # each item is one ready batch
    data_ips, step_ips, loop_ips = [], [], []
    for _ in range(args.rounds):
        data_ips.append(data_only(datamodule, args.warmup, args.steps)[0])
        step_ips.append(fit_timed(cfg, copy.deepcopy(model), args.warmup, args.steps, train_dataloaders=preloaded))
        loop_ips.append(fit_timed(cfg, copy.deepcopy(model), args.warmup, args.steps, datamodule=datamodule))
    step, loop = statistics.median(step_ips), statistics.median(loop_ips)
    over_budget = pipeline == "cached" and not getattr(datamodule, "cached", False)
    return {"task": task, "pipeline": "streaming (over budget)" if over_budget else pipeline,
            "batch": cfg.data.batch_size, "data": statistics.median(data_ips), "step": step, "loop": loop,
            "ratio": loop / step, "ratios": [lo / st for lo, st in zip(loop_ips, step_ips)]}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["dogs", "ssd"])
    parser.add_argument("--pipelines", nargs="+", default=["cached", "streaming"], choices=list(PIPELINES))
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before each measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating preloaded / full-loop measurements")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--shard-side", type=int, default=320, help="--pipelines shards: prepare.short_side")
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides for every run, key=value")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as out:  # the runs' logs
        rows = [measure(task, pipeline, args, out) for task in args.tasks for pipeline in args.pipelines]
    print(f"\n{torch.get_num_threads()} threads, {args.steps} steps after {args.warmup}, median of {args.rounds} "
          f"rounds; images/s")
    print("| task | pipeline | batch | data only | preloaded step | full loop | full / preloaded |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['pipeline']} | {r['batch']} | {r['data']:.0f} | {r['step']:.1f} | {r['loop']:.1f} "
              f"| **{r['ratio']:.2f}** ({', '.join(f'{x:.2f}' for x in r['ratios'])}) |")
    return rows


if __name__ == "__main__":
    guard("train_throughput", main)
