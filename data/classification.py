"""What the classification data modules share: image loading with clear errors, splits, transforms, loaders.

Subclasses only say where the samples are (`list_samples`); this module knows nothing of models.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from .errors import DatasetError
from .transforms import classification_transforms

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels (PIL crop convention)


class ImageClassificationDataset(Dataset):
    """(image path, label[, crop box]) samples -> (transformed image, label)."""

    def __init__(self, samples: Sequence[tuple[Path, int]], transform: Callable | None = None,
                 boxes: Sequence[Box | None] | None = None):
        self.samples = list(samples)
        self.transform = transform
        self.boxes = list(boxes) if boxes is not None else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = load_rgb(path)
        if self.boxes is not None and self.boxes[index] is not None:
            image = image.crop(self.boxes[index])
        return (self.transform(image) if self.transform else image), label


def load_rgb(path: Path) -> Image.Image:
    """Decode the whole file now (PIL is lazy), so a truncated or corrupt image fails here, naming the file."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError:
        raise DatasetError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"cannot read image {path}: {err}. Replace or delete the file (and its list entry)."
                           ) from None


def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (keep, held_out): `fraction` of every class held out (at least one image of a class with >= 2)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n = int(round(len(idx) * fraction))
        n = min(max(n, 1 if len(idx) >= 2 else 0), len(idx) - 1) if fraction > 0 else 0
        held.extend(idx[:n].tolist())
        keep.extend(idx[n:].tolist())
    return sorted(keep), sorted(held)


class ClassificationDataModule(pl.LightningDataModule):
    """Base: builds train/val/test datasets from `list_samples()` and serves them with the suite's transforms.

    Args:
        image_size: the model's input side (rho = image_size / 224).
        batch_size, num_workers: DataLoader settings (per process under DDP).
        val_fraction: stratified part of the training samples held out for validation; 0 validates on the test
            samples (the best checkpoint is then chosen on the test split: only for quick experiments).
        min_crop_scale, eval_crop_fraction, color_jitter, mean, std: see data.transforms.
        seed: the validation split's seed.
    """

    def __init__(self, image_size: int = 224, batch_size: int = 32, num_workers: int = 2, val_fraction: float = 0.1,
                 min_crop_scale: float = 0.35, eval_crop_fraction: float = 0.875, color_jitter: float = 0.2,
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
                 seed: int = 0):
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        self.image_size, self.batch_size, self.num_workers = image_size, batch_size, num_workers
        self.val_fraction, self.seed = val_fraction, seed
        augment = dict(min_crop_scale=min_crop_scale, eval_crop_fraction=eval_crop_fraction,
                       color_jitter=color_jitter, mean=mean, std=std)
        self.train_transform = classification_transforms(True, image_size, **augment)
        self.eval_transform = classification_transforms(False, image_size, **augment)
        self.datasets: dict[str, ImageClassificationDataset] = {}
        self.class_names: list[str] = []

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def list_samples(self) -> tuple[list, list | None]:
        """(train, test) lists of (path, label) or (path, label, crop box or None); test None: split from train."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        train, test = self.list_samples()
        if test is None:  # one pool of labelled images: val_fraction of it is held out for validation and test
            keep, held = stratified_split([s[1] for s in train], self.val_fraction, self.seed)
            train, test = [train[i] for i in keep], [train[i] for i in held]
            val = test
        elif self.val_fraction > 0:
            keep, held = stratified_split([s[1] for s in train], self.val_fraction, self.seed)
            train, val = [train[i] for i in keep], [train[i] for i in held]
        else:
            val = test
        self.datasets = {"train": self._dataset(train, self.train_transform),
                         "val": self._dataset(val, self.eval_transform),
                         "test": self._dataset(test, self.eval_transform)}

    @staticmethod
    def _dataset(samples: list, transform) -> ImageClassificationDataset:
        boxes = [s[2] for s in samples] if samples and len(samples[0]) > 2 else None
        return ImageClassificationDataset([(s[0], s[1]) for s in samples], transform, boxes)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.datasets[split], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          pin_memory=torch.cuda.is_available(), drop_last=shuffle and
                          len(self.datasets[split]) > self.batch_size)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
