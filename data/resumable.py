"""Exact mid-epoch resume: the training order's position and the random state a data module saves in checkpoints
and gives back to its loader (ClassificationDataModule.state_dict / load_state_dict).

- `EpochSampler`: the order of the training split for the decoded cache and the streaming pipeline. One process:
  each epoch's permutation is seeded by one draw from the global torch RNG when the epoch starts, as
  DataLoader(shuffle=True)'s RandomSampler does, so seeded runs keep the orders they always had; several processes
  (DDP): seeded by seed + epoch and strided across ranks, as the DistributedSampler Lightning would put in (so
  Lightning leaves this one in place). A resumed epoch reuses its seed and leaves out the samples already trained.
- `random_state` / `restore_random_state`: the process's global RNGs (torch, numpy, python). Lightning's checkpoints
  do not carry them; the data module saves rank 0's (the ranks of a DDP run draw alike: seeded alike, same draws)
  and the sampler restores them when its first iteration starts, which is where the uninterrupted run stood: its
  loader has a generator of its own, and the sampler makes the draw the loader's iterator made from the global RNG
  before (so the global stream is what it always was), so the next epochs' orders and the model's own random draws
  (dropout, Faster R-CNN's sampling) continue as if nothing had stopped.
"""
from __future__ import annotations

import logging
import random
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

log = logging.getLogger(__name__)

POSITION_VERSION = 1  # of the saved loader positions: another version (an older suite's checkpoint) is not applied


def numpy_state() -> list:
    """NumPy's global RNG state as a tensor and plain values (what checkpoints are read back with)."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss)]


def restore_numpy_state(state: list) -> None:
    name, keys, position, has_gauss, gauss = state
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))


def random_state() -> dict[str, Any]:
    """The global RNGs' states as tensors and plain values (what checkpoints are read back with)."""
    return {"torch": torch.get_rng_state(), "numpy": numpy_state(), "python": random.getstate()}


def restore_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    restore_numpy_state(state["numpy"])
    random.setstate(state["python"])


def draw_loader_seed() -> None:
    """The one draw from the global torch RNG a DataLoader's iterator makes for its workers' base seed when it has
    no generator of its own: the resumable samplers make it themselves (their loaders get a generator), so the
    global stream is what it always was, and a resumed epoch can leave it out."""
    torch.empty((), dtype=torch.int64).random_()


class EpochSampler(DistributedSampler):
    """See the module docstring. `keyed`: yield (epoch, index) pairs (for datasets that derive per-sample random
    draws from them: the streaming pipeline's workers); else indices."""

    def __init__(self, dataset, seed: int = 0, keyed: bool = False):
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(dataset, num_replicas=dist.get_world_size() if distributed else 1,
                         rank=dist.get_rank() if distributed else 0, shuffle=True, seed=seed)
        self.keyed = keyed
        self.epoch_seed: int | None = None  # the seed of the epoch being iterated
        self._resume: dict[str, Any] | None = None  # a saved position, applied when the next iteration starts

    def resume(self, position: dict[str, Any]) -> None:
        """Continue from `position()` of a checkpoint (applied when the next iteration starts, which a loader with
        workers begins before Lightning sets the epoch: the epoch is set here)."""
        self._resume = position
        self.set_epoch(position["epoch"] + 1 if position["finished"] else position["epoch"])

    def position(self, batches: int, batch_size: int, finished: bool) -> dict[str, Any]:
        """The state after `batches` trained batches of `batch_size` in the current epoch (`finished`: all of it)."""
        return {"epoch": self.epoch, "epoch_seed": self.epoch_seed, "samples": 0 if finished else batches * batch_size,
                "finished": finished, "random": random_state()}

    def __iter__(self) -> Iterator:
        resume, self._resume = self._resume, None
        skip = 0
        if resume is not None:  # where the uninterrupted run stood when it saved the checkpoint
            restore_random_state(resume["random"])
            if resume["epoch"] == self.epoch and resume["samples"] > 0:  # mid-epoch: its order, after its trained part
                self.epoch_seed, skip = resume["epoch_seed"], resume["samples"]
        if skip == 0:  # a new epoch: the global RNG draws of the RandomSampler-with-DataLoader it stands in for
            draw_loader_seed()
            self.epoch_seed = (int(torch.empty((), dtype=torch.int64).random_().item()) if self.num_replicas == 1
                               else self.seed + self.epoch)
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.epoch_seed)).tolist()
        if self.num_replicas > 1:  # DistributedSampler's padding and striding
            order += order[:self.total_size - len(order)]
            order = order[self.rank:self.total_size:self.num_replicas]
        for index in order[skip:]:
            yield (self.epoch, index) if self.keyed else index


class ResumableData:
    """What a data module keeps in checkpoints so that a resumed run trains on the same data from the same place
    (Lightning's LightningDataModule.state_dict / load_state_dict; mixed into the data modules):
    `train_fingerprint` (of the training sample list: a resume on changed data is refused) and the training
    loader's position: a ShardLoader's own, or its EpochSampler's. A subclass sets `train_fingerprint` in setup and
    `_train_loader` when it makes the training loader, and hands `take_resume()` to that loader (or its sampler to
    `resumed`)."""

    train_fingerprint: str = ""
    _train_loader = None
    _resume: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        state = {"train_fingerprint": self.train_fingerprint}
        loader, trainer = self._train_loader, getattr(self, "trainer", None)
        if loader is None or trainer is None:
            return state
        batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed  # trained in this epoch
        finished = batches >= trainer.num_training_batches
        holder = loader if hasattr(loader, "position") else loader.sampler
        if hasattr(holder, "position"):  # not a sampler of another kind (identities' batches per identity)
            state["train_loader"] = {**holder.position(batches, loader.batch_size, finished),
                                     "version": POSITION_VERSION}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint (before any loader exists): the data must be the data the run trained on;
        the training loader then continues from its saved position. Lightning's own restore of the loader's state
        is not used: it skips it when configure_optimizers reads `trainer.estimated_stepping_batches`
        (Lightning #20550), and it is one batch ahead (its fetcher has prefetched the next batch)."""
        self.setup("fit")
        saved = state.get("train_fingerprint")
        if saved and saved != self.train_fingerprint:
            from .errors import DatasetError
            raise DatasetError(f"{type(self).__name__}: the training samples differ from those of the checkpoint "
                               f"being resumed (files, labels or split settings changed): resume with the data it "
                               f"was trained on, or start a new run")
        self._resume = state.get("train_loader")
        if self._resume is not None and self._resume.get("version") != POSITION_VERSION:
            log.warning("the checkpoint's training-loader position was saved by another version of this suite: "
                        "training continues at the checkpoint's step, in a new order for the rest of that epoch")
            self._resume = None

    def take_resume(self) -> dict[str, Any] | None:
        """The saved position, once (for the training loader being made)."""
        resume, self._resume = self._resume, None
        return resume

    def resumed(self, sampler):
        """`sampler` (an EpochSampler, or a sampler with its `resume`) continuing from the saved position, if any."""
        resume = self.take_resume()
        if resume is not None:
            sampler.resume(resume)
        return sampler
