"""The distillation mixin: a task's teacher, its outputs for the training images computed once and cached, and
each batch's targets (see tasks.distill.teachers for the teacher kinds and the cache)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from data.cache import default_cache_dir, ensure_generated, is_complete
from data.classification import ImageClassificationDataset
from data.decoded import fingerprint
from data.errors import DatasetError
from data.shards import ShardRecords, check_shards

from .teachers import (CACHE_VERSION, OutputsTeacher, Teacher, TeacherError, View, build_teacher, check_output_size,
                       output_order)

log = logging.getLogger(__name__)


def teacher_outputs(teacher: Teacher, images: Sequence[tuple[str, Path]], expected: int, what: str,
                    names: Sequence[str] | None = None, batch_size: int = 128, num_workers: int = 2,
                    required: bool = True, device: torch.device | str = "cpu",
                    shards: Path | None = None, parts: int = 1, part: int | None = None) -> torch.Tensor | None:
    """The teacher's outputs [N, expected] for (id, path) `images`, in order (columns in the order of `names`,
    when given and the teacher names its outputs): looked up, or computed once on `device` and cached (see module
    docstring). None only for an `outputs` file holding none of the ids when not `required`. `shards`: a shard
    folder (data.shards) holding these images, whose records' labels are their rows (a distilling student's
    training split): the teacher reads the records instead of the files.

    `parts` > 1: the images (the records, in their written order) cut into that many contiguous parts, each computed
    into its own file beside the cache entry (written under a temporary name and renamed when complete) unless that
    file exists, then put together into the entry: a restarted pass computes only the missing parts. `part`: compute
    that part only (a job of an array: local processes or a SLURM array) and return None."""
    ids = [i for i, _ in images]
    order = output_order(teacher, names, what) if names is not None else None
    if isinstance(teacher, OutputsTeacher):
        outputs = teacher.lookup(ids, required)
        if outputs is not None and outputs.shape[1] != expected:
            raise DatasetError(f"teacher outputs {teacher.path} have {outputs.shape[1]} values per image; {what} "
                               f"needs {expected}")
        return outputs if outputs is None or order is None else outputs[:, order]
    if parts < 1 or (part is not None and not 0 <= part < parts) or (part is not None and parts == 1):
        raise TeacherError(f"teacher.part={part}, teacher.parts={parts}: parts must be >= 1, and part in "
                           f"0..parts-1 with parts > 1 (one part is the whole pass: leave teacher.part null)")
    paths = [p for _, p in images]
    key = {"version": CACHE_VERSION, "teacher": teacher.identity(), "ids": hashlib.sha1("\n".join(ids).encode())
           .hexdigest(), "count": len(paths),
           **({"shards": check_shards(shards)["fingerprint"]} if shards else {"files": fingerprint(paths)})}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = default_cache_dir() / "teacher_outputs" / digest
    files = [folder.with_name(f"{digest}.parts") / f"part-{i:05d}-of-{parts:05d}.npz" for i in range(parts)]
    ready: list[torch.utils.data.Dataset] = []  # the teacher checked and on its device, its dataset: built once

    def dataset() -> torch.utils.data.Dataset:
        if not ready:
            check_output_size(teacher, expected, what)
            teacher.to(torch.device(device))
            ready.append(TeacherRecords(ShardRecords(shards), teacher.view.transform()) if shards else
                         ImageClassificationDataset([(p, row) for row, p in enumerate(paths)],
                                                    teacher.view.transform()))
        return ready[0]

    def rows_and_outputs(number: int) -> tuple[np.ndarray, np.ndarray]:
        """Part `number` (the whole pass when parts=1): the rows it fills and their outputs, from its file if a
        job wrote it, else computed (and, with parts, written)."""
        if parts > 1 and files[number].is_file():
            with np.load(files[number]) as part_file:
                return part_file["rows"], part_file["outputs"]
        bounds = [round(i * len(dataset()) / parts) for i in range(parts + 1)]
        loader = DataLoader(Subset(dataset(), range(bounds[number], bounds[number + 1])), batch_size=batch_size,
                            num_workers=num_workers)
        rows, outputs = [], []
        label = f"teacher outputs ({len(loader.dataset)} images{f', part {number + 1}/{parts}' if parts > 1 else ''})"
        for batch, batch_rows in tqdm(loader, desc=label, unit="batch"):
            rows.append(batch_rows.numpy())
            outputs.append(teacher.run(batch.to(device)).cpu().numpy())
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)  # an empty part: more parts than images
        outputs = np.concatenate(outputs) if outputs else np.zeros((0, expected), np.float32)
        if parts > 1 and not is_complete(folder, key):  # (put together meanwhile by a training run: not needed)
            files[number].parent.mkdir(parents=True, exist_ok=True)
            tmp = files[number].with_name(f".{files[number].stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, rows=rows, outputs=outputs)
            os.replace(tmp, files[number])
            log.info("teacher outputs, part %d/%d (%d images): %s", number + 1, parts, len(rows), files[number])
        return rows, outputs

    if part is not None:
        if not is_complete(folder, key):
            rows_and_outputs(part)
        return None

    def compute(tmp: Path) -> None:
        outputs = None
        for number in range(parts):
            rows, result = rows_and_outputs(number)
            if outputs is None:  # rows no record fills (images the shards left out) are never a target: NaN
                outputs = np.full((len(paths), result.shape[1]), np.nan, dtype=result.dtype)
            outputs[rows] = result
        np.save(tmp / "outputs.npy", outputs)

    existed = is_complete(folder, key)
    ensure_generated(folder, key, compute)
    shutil.rmtree(files[0].parent, ignore_errors=True)  # the parts are in the entry now
    outputs = torch.from_numpy(np.load(folder / "outputs.npy"))
    log.info("teacher outputs for %d images: %s %s", len(paths), "reused" if existed else "computed into", folder)
    if outputs.shape != (len(paths), expected):
        raise TeacherError(f"teacher {teacher.source} gave outputs of shape {list(outputs.shape)}; {what} needs "
                           f"[{len(paths)}, {expected}]")
    return outputs if order is None else outputs[:, order]


class TeacherRecords(torch.utils.data.Dataset):
    """A student's training shards as the teacher sees them: (its view of the image, the record's row)."""

    def __init__(self, records: ShardRecords, transform):
        self.records, self.transform = records, transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        _, image, record = self.records[index]
        return self.transform(image), int(record["label"])


def resize_for(view: View, images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A batch normalised with (mean, std) at any size, re-normalised and resized for `view` (online teachers)."""
    shape = (1, 3, 1, 1)
    pixels = images * images.new_tensor(std).view(shape) + images.new_tensor(mean).view(shape)
    if pixels.shape[-1] != view.image_size or pixels.shape[-2] != view.image_size:
        pixels = F.interpolate(pixels, size=(view.image_size, view.image_size), mode="bilinear", antialias=True,
                               align_corners=False)
    return (pixels - pixels.new_tensor(view.mean).view(shape)) / pixels.new_tensor(view.std).view(shape)


class DistillingTask:
    """Mixed into a TaskModule that distils (before TaskModule in the bases): its teacher, built on first use from
    `teacher_spec`; the teacher's outputs for the training images, computed once at fit (`teacher_targets`); and
    each batch's targets (`batch_targets`: cached rows by the batch's image indices, or with `teacher.online` the
    teacher run on the augmented batch). The task says how many outputs it needs (`teacher_size`), what they are
    called (`teacher_names`, or None) and how outputs become targets (`targets_from`)."""

    teacher_spec: dict[str, Any] | None
    distill: bool

    def init_teacher(self, teacher: dict[str, Any] | None) -> None:
        self.teacher_spec = dict(teacher) if teacher else None
        self.teacher: Teacher | None = None
        self.teacher_targets: torch.Tensor | None = None  # targets for images("train"), in dataset order
        self._online_order: list[int] | None | str = "unset"

    def teacher_size(self) -> int:
        raise NotImplementedError

    def teacher_names(self) -> Sequence[str] | None:
        return None

    def targets_from(self, outputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the teacher behind (ONNX sessions are rebuilt on use)."""
        return {**super().__getstate__(), "teacher": None}

    def built_teacher(self) -> Teacher:
        if self.teacher is None:
            self.teacher = build_teacher(self.teacher_spec, self.teacher_size())
        return self.teacher

    def teacher_targets_for(self, split: str, required: bool = True) -> torch.Tensor | None:
        """Targets for every image of a split (computed once and cached, see the module docstring)."""
        outputs = self.teacher_pass(self.trainer.datamodule, split, self.trainer.strategy.root_device, required)
        return None if outputs is None else self.targets_from(outputs.float())

    def teacher_pass(self, dm, split: str, device: torch.device, required: bool = True,
                     part: int | None = None) -> torch.Tensor | None:
        """The teacher's outputs for a split of `dm` (teacher_outputs), in `teacher.parts` parts; `part`: compute
        that part of the pass only (a job of an array; the training run puts the parts together) and return None."""
        return teacher_outputs(self.built_teacher(), dm.images(split), self.teacher_size(), self.teacher_need(),
                               names=self.teacher_names(), num_workers=dm.num_workers, required=required,
                               device=device, shards=dm.shard_folder(split),
                               parts=int(self.teacher_spec.get("parts", 1)), part=part)

    def teacher_need(self) -> str:
        """What the task needs of its teacher, for error messages."""
        return f"this task's {self.teacher_size()} outputs"

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.setup_teacher(stage)

    def setup_teacher(self, stage: str) -> None:
        if not self.teacher_spec:
            return
        if self.teacher_spec.get("online") and self.teacher_spec["kind"] == "outputs":
            raise TeacherError("teacher.online=true needs a model teacher; precomputed outputs cannot see the "
                               "augmented images (set teacher.online=false)")
        if stage == "fit" and self.distill and not self.teacher_spec.get("online") and self.teacher_targets is None:
            self.teacher_targets = self.teacher_targets_for("train")

    def teacher_row(self, metrics: dict[str, Any] | None, latency_repeats: int) -> dict[str, Any]:
        """results.json's `teacher` entry: kind, source, `metrics` (when measured), input size, params, mult-adds
        and CPU latency where they can be measured, and the stage-1 run's backbone, folder and train time."""
        teacher = self.built_teacher()
        row: dict[str, Any] = {"kind": self.teacher_spec["kind"], "source": teacher.source}
        if metrics is not None:
            row["metrics"] = metrics
        row["image_size"] = teacher.view.image_size if teacher.view else None
        row.update(teacher.profile(latency_repeats))
        stage_dir = self.teacher_spec.get("stage_dir")
        if stage_dir and (Path(stage_dir) / "results.json").is_file():
            stage = json.loads((Path(stage_dir) / "results.json").read_text())
            row.update({"backbone": stage.get("backbone"), "run_dir": stage_dir,
                        "train_seconds": stage.get("train_seconds")})
        return row

    def batch_targets(self, images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """The teacher's targets for a training batch whose targets are image indices (no label is read)."""
        if not self.teacher_spec.get("online"):
            return self.teacher_targets[indices.cpu()].to(images.device)
        dm = self.trainer.datamodule
        teacher = self.built_teacher().to(images.device)
        outputs = teacher.run(resize_for(teacher.view, images, dm.mean, dm.std))
        if self._online_order == "unset":  # which output is which: once
            names = self.teacher_names()
            self._online_order = None if names is None else output_order(teacher, names, "the data")
        return self.targets_from(outputs if self._online_order is None else outputs[:, self._online_order])
