"""Signals that stop training take effect after the next step where a resumed run continues exactly: Ctrl+C,
SIGTERM (a scheduler), and the signal by which submitit tells a job it is pre-empted or near its time limit (then
the job is requeued).

Acted on where they arrive, they would stop the run mid-step (Ctrl+C, submitit's own handler) or between
validation batches (Lightning's SIGTERM handling), and the interrupted.ckpt Lightning then writes would not resume
exactly (or would hold a half-updated model). While training runs they are only noted; at the end of the next
training step that is not an epoch's last (that state is saved after the epoch's validation: data.resumable) nor
inside a gradient accumulation, on every rank at the same step whichever rank got the signal, training stops with
`Stopped` and Lightning writes checkpoints/interrupted.ckpt there (OnExceptionCheckpoint). Then the run ends as
interrupted (`resume=last` continues it), or, for submitit's signal (USR2 unless SUBMITIT_PREEMPT_SIGNAL names
another; SLURM sends it `hydra.launcher.signal_delay_s` before the time limit) in a run that may requeue
(`resume=auto`), `requeue()` calls submitit's own handler, which saves the job's submission and requeues it; the
requeued job runs the same command and continues from that checkpoint. Ctrl+C pressed again stops at once. Outside
training (data set-up, validation before the first step, testing) the usual handlers act at once.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)

# what a rank noted, as a number the ranks agree on by taking the largest: 0 nothing, then by urgency
URGENCY = (None, signal.SIGINT, signal.SIGTERM, "preemption")


def preemption_signal() -> signal.Signals | None:
    """The signal by which submitit tells its job it is pre-empted or about to time out; None outside a submitit job
    (submitit's job script sets SUBMITIT_EXECUTOR, and every process the job starts inherits it)."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return None
    from submitit import JobEnvironment
    return JobEnvironment._usr_sig()


class Stopped(Exception):
    """Training stopped at a step boundary for a signal (StopAtStep.signum() says which)."""


class StopAtStep(pl.Callback):
    """Holds the stopping signals back while training runs (module docstring). After `trainer.fit`, `signum()` is
    the signal the ranks stopped for or noted (None: none), and `restore()` must be called (train_and_test does)."""

    def __init__(self) -> None:
        self.preemption = preemption_signal()
        self._local = 0  # the most urgent signal this process got (an index of URGENCY)
        self._agreed = 0  # the most urgent any rank got, as of the last step
        self._handlers: dict[int, Any] = {}  # Ctrl+C's and submitit's handlers before fit (restore() puts them back)
        self._pid = os.getpid()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # before the loaders' workers are forked, so they inherit this handler (a terminal's Ctrl+C reaches them too)
        if threading.current_thread() is threading.main_thread():
            self._pid = os.getpid()
            for signum in (signal.SIGINT, self.preemption):
                if signum is not None:
                    self._handlers[signum] = signal.signal(signum, self._note)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after Lightning installed its own SIGTERM handler (it puts back the one from before fit when fit ends)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:  # a data loader worker (forked with this handler): it goes on serving batches
            return
        if signum == signal.SIGINT and URGENCY[self._local] == signal.SIGINT:  # Ctrl+C again: at once
            raise KeyboardInterrupt
        what = "preemption" if signum == self.preemption else signum
        log.warning("%s: training stops after the next step a resumed run continues exactly%s",
                    signal.Signals(signum).name, ", then the job is requeued" if what == "preemption" else
                    " (Ctrl+C again: at once)" if signum == signal.SIGINT else "")
        self._local = max(self._local, URGENCY.index(what))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.agree(trainer)
        if not self._agreed or trainer.fit_loop.epoch_loop.batch_progress.is_last_batch \
                or (batch_idx + 1) % trainer.accumulate_grad_batches:
            return
        raise Stopped(f"stopped by {signal.Signals(self.signum()).name} after step {trainer.global_step}")

    def agree(self, trainer: pl.Trainer) -> None:
        """Every rank takes the most urgent signal any rank got (one small all-reduce per step under DDP)."""
        agreed = self._local
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([agreed], device=trainer.strategy.root_device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            agreed = int(flag.item())
        self._agreed = max(self._agreed, agreed)

    def signum(self) -> int | None:
        """The signal the ranks agreed on (None: none), as this process knows it."""
        what = URGENCY[self._agreed]
        return self.preemption if what == "preemption" else what

    def restore(self) -> None:
        """Ctrl+C's and submitit's handlers as they were before fit (Lightning restores SIGTERM's itself, and puts
        back this callback's when fit ends: call this after fit)."""
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)

    def requeue(self) -> str:
        """Hand over to submitit's handler of its signal: on rank 0 it saves the job's submission, requeues the job
        (SLURM: scontrol requeue; the local executor: exits with the code that starts it again) and exits; other
        ranks exit here. Returns why not when submitit refuses (the job timed out too often)."""
        self.restore()
        handler = signal.getsignal(self.preemption)
        if callable(handler):
            try:
                handler(self.preemption, None)
            except Exception as refused:  # noqa: BLE001 - submitit's UncompletedJobError: the job ends here
                return str(refused)
        raise SystemExit(-1)
