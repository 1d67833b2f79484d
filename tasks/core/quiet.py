"""Quiet output: the messages of the libraries underneath that a user of the suite cannot act on, silenced here
and nowhere else, each by its exact text and the module that emits it (every other warning and log line still
shows). `install()` runs when the `tasks` package is imported, so every entry point, test and teacher stage gets it.

What is silenced, and why it cannot be acted on:
- Lightning's "Tip: ... try installing litlogger" advertisement (at every Trainer);
- Lightning's `isinstance(treespec, LeafSpec)` FutureWarning from its own `utilities/_pytree.py` (torch >= 2.10);
- "`weights_only` was not set, defaulting to `False`": Lightning saving a full checkpoint (Ctrl+C's
  interrupted.ckpt), as intended;
- "`.fit(ckpt_path=None)` was called without a model. The last model ..." and `.fit(ckpt_path="last") is set, but
  there is no last checkpoint`: Lightning probing for a checkpoint to resume on every fresh run, because an
  OnExceptionCheckpoint (interrupted.ckpt) is configured; `resume=` says what a run resumes from;
- "Loading `train_dataloader` to estimate number of stepping batches.": an internal step of the LR schedule's setup;
- LitData's "max_cache_size is unset; using ..." and "StreamingDataset POSIX-fast ..." (at every loader and shard
  part: the shards are local, nothing is cached) and Lightning's "Your `IterableDataset` has `__len__` defined"
  (LitData's length is per rank and worker, as it should be).
"""
from __future__ import annotations

import logging
import re
import warnings

# (logger name, message pattern matched at the message's start): INFO lines dropped
LOG_LINES = (
    ("pytorch_lightning.utilities.rank_zero", r"💡 Tip: .*litlogger"),
    ("lightning_fabric.utilities.rank_zero", r"💡 Tip: .*litlogger"),
    ("pytorch_lightning.trainer.connectors.checkpoint_connector", r"`weights_only` was not set"),
    ("pytorch_lightning.utilities.rank_zero", r"Loading `train_dataloader` to estimate number of stepping batches"),
    ("lightning_fabric.utilities.rank_zero", r"Loading `train_dataloader` to estimate number of stepping batches"),
    ("litdata.utilities.format", r"max_cache_size is unset"),
    ("litdata.streaming.dataset", r"StreamingDataset POSIX-fast"),
)

# (message pattern matched at the message's start, category, module regex or ""): warnings ignored
WARNINGS = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"pytorch_lightning\.utilities\._pytree"),
    (r"`\.fit\(ckpt_path=None\)` was called without a model\. The last model of the previous `fit` call",
     UserWarning, ""),
    (r'\.fit\(ckpt_path="last"\) is set, but there is no last checkpoint available', UserWarning, ""),
    (r"Your `IterableDataset` has `__len__` defined", Warning, r"pytorch_lightning\.utilities\.data"),
)


class DropMessages(logging.Filter):
    """Drops a logger's records whose message starts with one of `patterns`."""

    def __init__(self, patterns: list[str]):
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(p.match(message) for p in self.patterns)


def install() -> None:
    """Install the filters (idempotent: a filter already on a logger is replaced, a warning filter is not added
    twice)."""
    by_logger: dict[str, list[str]] = {}
    for name, pattern in LOG_LINES:
        by_logger.setdefault(name, []).append(pattern)
    for name, patterns in by_logger.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, DropMessages)]:
            logger.removeFilter(old)
        logger.addFilter(DropMessages(patterns))
    for message, category, module in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
