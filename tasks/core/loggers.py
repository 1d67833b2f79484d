"""A CSV metrics log that survives resuming: Lightning's CSVLogger deletes an existing metrics.csv when a run
starts again in the same folder ("exists and is not empty"), losing the finished epochs' history.

Here a resumed run appends: the rows already written stay, except those logged after the checkpoint the run
resumes from (a run killed after its last checkpoint re-does those steps and logs them again): the first rows the
resumed run writes carry the step it resumed at, and older rows at that step or later are the ones it re-does. So
every epoch appears exactly once. The file is rewritten atomically.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger as LightningCSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from .io import write_text_atomic


class _AppendingWriter(ExperimentWriter):
    """Lightning's writer that keeps an existing metrics.csv and continues it."""

    def __init__(self, log_dir: str) -> None:
        self._continuing = Path(log_dir, self.NAME_METRICS_FILE).is_file()
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:  # Lightning deletes metrics.csv here
        pass

    def save(self) -> None:
        if self._continuing and self.metrics:
            self._continuing = False
            self._drop_redone(min(int(m["step"]) for m in self.metrics if "step" in m))
        super().save()

    def _drop_redone(self, first_step: int) -> None:
        """Keep the earlier rows logged before `first_step` (the resumed run logs the later ones anew)."""
        path = Path(self.metrics_file_path)
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            keys, rows = list(reader.fieldnames or []), list(reader)
        kept = [row for row in rows if row.get("step") in (None, "") or int(float(row["step"])) < first_step]
        self.metrics_keys = sorted(set(keys) | set(self.metrics_keys))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.metrics_keys)
        writer.writeheader()
        writer.writerows(kept)
        write_text_atomic(path, buffer.getvalue())


class CSVLogger(LightningCSVLogger):
    """pytorch_lightning's CSVLogger whose metrics.csv a resumed run continues (module docstring)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
