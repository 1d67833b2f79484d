"""Signals that stop training take effect after the next step where a resumed run continues exactly: Ctrl+C, and
the signal by which submitit tells a job it is pre-empted or near its time limit (then the job is requeued).

Raised from inside whatever the process is doing, they would stop it mid-step, and the interrupted.ckpt Lightning
then writes could hold a half-updated model. While `trainer.fit` runs they are only noted; at the end of the next
training step that is not an epoch's last (that state is saved after the epoch's validation: data.resumable), on
every rank at the same step whichever rank got the signal, training stops and Lightning writes
checkpoints/interrupted.ckpt there (OnExceptionCheckpoint). Then:
- Ctrl+C: the run ends as interrupted (`resume=last` continues it); a second Ctrl+C stops at once, as before.
- submitit's signal (USR2 unless SUBMITIT_PREEMPT_SIGNAL names another; SLURM sends it
  `hydra.launcher.signal_delay_s` before the time limit): `requeue()` calls submitit's own handler, which saves the
  job's submission and requeues it; the requeued job runs the same command and, with `resume=auto`, continues from
  that checkpoint. Outside training (data set-up, testing) submitit's handler requeues at once.
SIGTERM needs none of this: Lightning itself stops at a step boundary (its interrupted.ckpt resumes exactly too).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any, NoReturn

import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)

NONE, CTRL_C, PREEMPTED = 0, 1, 2  # what a rank noted; the ranks agree on the largest


def preemption_signal() -> signal.Signals | None:
    """The signal by which submitit tells its job it is pre-empted or about to time out; None outside a submitit job
    (submitit's job script sets SUBMITIT_EXECUTOR, and every process the job starts inherits it)."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return None
    from submitit import JobEnvironment
    return JobEnvironment._usr_sig()


class Preempted(Exception):
    """Training stopped at a step boundary because the job was told it is pre-empted or about to time out."""


class StopAtStep(pl.Callback):
    """Holds Ctrl+C and submitit's signal back while training runs (module docstring). `noted`: NONE, CTRL_C or
    PREEMPTED."""

    def __init__(self) -> None:
        self.preemption = preemption_signal()
        self.noted = NONE
        self._handlers: dict[int, Any] = {}
        self._pid = os.getpid()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._pid = os.getpid()
            for signum in (signal.SIGINT, self.preemption):
                if signum is not None:
                    self._handlers[signum] = signal.signal(signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:  # a data loader worker (forked with this handler): Ctrl+C reaches the whole
            return  # process group; the workers go on serving batches until training stops
        if signum == signal.SIGINT and self.noted == CTRL_C:  # pressed again: at once, as without this callback
            self._restore()
            raise KeyboardInterrupt
        if signum == signal.SIGINT:
            log.warning("Ctrl+C: training stops after the next step a resumed run continues exactly (press again to "
                        "stop at once)")
        else:
            log.warning("%s: the job is pre-empted or near its time limit: training stops after the next step a "
                        "resumed run continues exactly, then the job is requeued", signal.Signals(signum).name)
        self.noted = max(self.noted, CTRL_C if signum == signal.SIGINT else PREEMPTED)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.world_size > 1:  # any rank's signal stops them all, at this same step
            noted = torch.tensor(self.noted, device=trainer.strategy.root_device)
            self.noted = int(trainer.strategy.reduce(noted, reduce_op="max"))
        if self.noted == NONE or trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return
        if self.noted == PREEMPTED:
            raise Preempted(f"pre-empted: training stopped after step {trainer.global_step}")
        raise KeyboardInterrupt  # Lightning's own Ctrl+C path from here: interrupted.ckpt, then it exits

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        self._handlers = {}

    def requeue(self) -> NoReturn:
        """Hand over to submitit's handler of its signal: on rank 0 it saves the job's submission, requeues the job
        (SLURM: scontrol requeue; the local executor: exits with the code that starts it again) and exits; it raises
        if the job may not be requeued any more (timed out too often). Other ranks exit here."""
        self._restore()
        handler = signal.getsignal(self.preemption)
        if callable(handler):
            handler(self.preemption, None)
        raise SystemExit(-1)
