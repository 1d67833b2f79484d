"""Callbacks the resume tests add to train.py runs (`+callbacks.probe._target_=resume_probe.Probe`, with tests/ on
PYTHONPATH): a record of what every training step saw, and a kill -9 of the run at a given step."""
from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import pytorch_lightning as pl
import torch


class Probe(pl.Callback):
    """Appends {step, epoch, images: sha1 of the batch as the model gets it, labels, rng: sha1 of the global torch
    RNG's state} per training step to `file`
    and, at `kill_at_step` (global step after the update), kills its process group (start the run in a session of
    its own) with SIGKILL; at `signal_at_step` (global step before the update: mid-step) sends the process of rank
    `signal_rank` the signal `signal` (SIGUSR2: what SLURM sends a submitit job it pre-empts; a resumed run starts
    past that step, so it is sent once), or with `signal_group` its whole process group (start the run in a session
    of its own); with `signal_in_validation`, at the first batch of the validation that runs at that step."""

    def __init__(self, file: str, kill_at_step: int | None = None, signal_at_step: int | None = None,
                 signal_rank: int = 0, signal: str = "SIGUSR2", signal_group: bool = False,
                 signal_in_validation: bool = False):
        self.file = Path(file)
        self.signal_at_step, self.signal_rank, self.signal = signal_at_step, signal_rank, signal
        self.signal_group, self.signal_in_validation = signal_group, signal_in_validation
        self.kill_at_step = kill_at_step if kill_at_step is not None else (  # or from the environment, so that
            int(os.environ["RESUME_PROBE_KILL_AT"]) if os.environ.get("RESUME_PROBE_KILL_AT") else None)  # the
        # command line of a killed run and of its continuation can be the same (resume=auto)

    def send(self, trainer, in_validation: bool) -> None:
        if trainer.global_step == self.signal_at_step and trainer.global_rank == self.signal_rank \
                and in_validation == self.signal_in_validation and not trainer.sanity_checking:
            if self.signal_group:  # as a terminal's Ctrl+C: every process of the run, data loader workers included
                os.killpg(os.getpgrp(), getattr(signal, self.signal))
            else:
                os.kill(os.getpid(), getattr(signal, self.signal))

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.send(trainer, in_validation=True)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.send(trainer, in_validation=False)
        images, labels = batch[0], batch[1]
        if isinstance(images, (list, tuple)):  # detection: a list of images (or one tensor, the decoded cache's)
            images = torch.cat([image.detach().cpu().flatten() for image in images])
        if isinstance(labels, (list, tuple)):  # detection: a list of targets (boxes and labels)
            labels = torch.cat([torch.cat([t["boxes"].flatten(), t["labels"].float()]).cpu() for t in labels])
        record = {"step": trainer.global_step, "epoch": trainer.current_epoch, "batch_idx": batch_idx,
                  "rank": trainer.global_rank,
                  "images": hashlib.sha1(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest(),
                  "labels": labels.detach().cpu().tolist(),
                  "rng": hashlib.sha1(torch.get_rng_state().numpy().tobytes()).hexdigest()}
        with open(self.file, "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.kill_at_step is not None and trainer.global_step == self.kill_at_step:
            os.killpg(os.getpgrp(), signal.SIGKILL)  # the run's process group: every rank and worker at once
