"""What the classification data modules share: image loading with clear errors, splits, transforms, loaders.

Subclasses only say where the samples are (`list_samples`); this module knows nothing of models.

Two pipelines serve the same samples (`decode_cache_gb` chooses, by the dataset's decoded size):
- cached (small datasets): every image is decoded once into a uint8 store (data.decoded). Training images are
  kept with their shorter side at most `cache_short_side` (default: 8/7 of image_size, as ImageNet's resize
  256 for 224; never enlarged); evaluation images after evaluation's resize and centre crop, so evaluation reads
  the exact pixels the streaming pipeline computes. Training batches leave the loader as uint8 and are augmented
  in `on_after_batch_transfer` (data.batch_augment), on the training device, in the main process.
- streaming: decode and augment every epoch in `num_workers` DataLoader workers (data.transforms).

Before either, unreadable files (empty, truncated, not an image) are left out with a warning (`bad_images=skip`,
the default; `skipped_images` lists them) or refused (`bad_images=error`), sample and label together, so labels
never shift (data.images). `metrics_split` says where the test metrics come from: "test" when the test split shares
no image with the training and validation splits, else a phrase saying it is the validation split.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from .batch_augment import ClassificationAugment, UInt8Batch, augment_generator, batch_generator, counter_seed
from .decoded import DecodedImages, decoded_images, estimate_bytes, plan_cache, sampled_sizes, whole_batch
from .errors import DatasetError
from .images import check_bad_images, load_rgb, unreadable_images
from .resumable import EpochSampler, ResumableData
from .shards import (JpegBatch, ShardLoader, ShardRecord, check_shards, check_source, decode_batch, open_shards,
                     samples_fingerprint, shard_batch, write_shards)
from .transforms import classification_transforms, eval_resize

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels (PIL crop convention)


class ImageClassificationDataset(Dataset):
    """(image path, label[, crop box]) samples -> (transformed image, label)."""

    def __init__(self, samples: Sequence[tuple[Path, int]], transform: Callable | None = None,
                 boxes: Sequence[Box | None] | None = None, seed: int = 0):
        self.samples = list(samples)
        self.transform = transform
        self.boxes = list(boxes) if boxes is not None else None
        self.seed = seed

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> Image.Image:
        """The decoded image, cropped to its box if it has one."""
        image = load_rgb(self.samples[index][0])
        if self.boxes is not None and self.boxes[index] is not None:
            image = image.crop(self.boxes[index])
        return image

    def __getitem__(self, index: int | tuple[int, int]):
        """Sample `index`; an (epoch, index) key (the training sampler's, data.resumable) also seeds the process's
        torch RNG from (seed, epoch, index) first, so the sample's augmentation is the same in any worker and after
        any resume."""
        if isinstance(index, tuple):
            epoch, index = index
            torch.manual_seed(counter_seed(self.seed, epoch, index))
        image = self.load(index)
        return (self.transform(image) if self.transform else image), self.samples[index][1]


class CachedClassificationDataset(Dataset):
    """The samples of an ImageClassificationDataset (`samples`, `boxes`: the same lists) from a decoded store.
    Item i: (uint8 [3, H, W] image as stored, label). Batches (`__getitems__`, which the DataLoader calls with a
    batch's indices): a UInt8Batch to augment when `train`, else normalised float images and labels."""

    def __init__(self, source: ImageClassificationDataset, store: DecodedImages, train: bool,
                 mean: Sequence[float], std: Sequence[float]):
        if len(store) != len(source):
            raise ValueError(f"decoded store {store.folder} has {len(store)} images for {len(source)} samples")
        self.samples, self.boxes, self.store, self.train = source.samples, source.boxes, store, train
        self.labels = torch.as_tensor(np.asarray([label for _, label in source.samples]))  # [N] ints or [N, A]
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int):
        label = self.labels[index]
        return self.store.tensor(index), (int(label) if label.ndim == 0 else label)

    def __getitems__(self, indices: list[int]):
        images, sizes = self.store.batch(indices)
        labels = self.labels[indices]
        if self.train:
            return UInt8Batch(images, sizes, labels)
        return images.float().div_(255).sub_(self.mean).div_(self.std), labels


class LoadAndPrepare:
    """The cache build's per-image work (picklable for spawned workers): decode, crop to the box, prepare."""

    def __init__(self, dataset: ImageClassificationDataset, prepare: Callable):
        self.dataset, self.prepare = dataset, prepare

    def __call__(self, index: int) -> torch.Tensor:
        return self.prepare(self.dataset.load(index))


def shrink_short_side(image: torch.Tensor, side: int) -> torch.Tensor:
    """Resize a [C, H, W] image so its shorter side is `side`, unless it is already that small."""
    return v2.functional.resize(image, [side], antialias=True) if min(image.shape[-2:]) > side else image


def describe_metrics_split(train: Sequence[Path], val: Sequence[Path], test: Sequence[Path],
                           no_test_reason: str) -> str:
    """`metrics_split`: "test" when the test images are disjoint from the training and validation images, else
    a short phrase saying what they are (`no_test_reason`: why the data has no test split of its own)."""
    tested = set(map(str, test))
    if tested and not tested & set(map(str, [*train, *val])):
        return "test"
    if tested == set(map(str, val)):
        return f"val ({no_test_reason}; the checkpoint was also selected on it)"
    return "test (it shares images with the training or validation split)"


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


class ClassificationDataModule(ResumableData, pl.LightningDataModule):
    """Base: builds train/val/test datasets from `list_samples()` and serves them with the suite's transforms.

    Args:
        image_size: the model's input side (rho = image_size / 224).
        batch_size, num_workers: DataLoader settings (per process under DDP); the cached pipeline loads in the
            main process and uses `num_workers` only to build its store.
        val_fraction: stratified part of the training samples held out for validation; 0 validates on the test
            samples (the best checkpoint is then chosen on the test split: only for quick experiments).
        test_fraction: for data that is one labelled pool (no validation or test split of its own): the
            stratified part of it held out (seeded, before validation's) as a disjoint test split; 0 tests on the
            validation split (`metrics_split` says so).
        bad_images: "skip" leaves unreadable image files out (`skipped_images`, a warning naming them); "error"
            stops with a DatasetError naming the first.
        min_crop_scale, eval_crop_fraction, color_jitter, mean, std: see data.transforms.
        seed: the validation split's seed, and with the DDP rank the cached pipeline's augmentation's.
        decode_cache_gb: decode the images once into a uint8 cache when it takes at most this many GB (see the
            module docstring); 0 streams from disk every epoch.
        cache_short_side: the cached training images' shorter side (null: round(image_size * 8 / 7)); also the
            side sharded training images are shrunk to when decoded.
        source: "files" (the image files: the decoded cache or streaming, by decode_cache_gb) or "shards": the
            training split from LitData shards written by prepare.py into `shards` (data.shards); validation and
            test read the files as with "files".
        shards: the folder prepare.py wrote (prepare.out), for source=shards.
    """

    def __init__(self, image_size: int = 224, batch_size: int = 32, num_workers: int = 2, val_fraction: float = 0.1,
                 min_crop_scale: float = 0.35, eval_crop_fraction: float = 0.875, color_jitter: float = 0.2,
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
                 seed: int = 0, decode_cache_gb: float = 8.0, cache_short_side: int | None = None,
                 test_fraction: float = 0.0, bad_images: str = "skip", source: str = "files",
                 shards: str | None = None):
        super().__init__()
        self.source, self.shards = check_source(source, shards)
        if not 0 <= val_fraction < 1:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        if not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
            raise ValueError(f"data.test_fraction must be in [0, 1) and leave training images "
                             f"(val_fraction + test_fraction < 1), got {test_fraction}")
        self.image_size, self.batch_size, self.num_workers = image_size, batch_size, num_workers
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed
        self.bad_images = check_bad_images(bad_images)
        self.skipped_images: list[str] = []  # unreadable files left out (bad_images=skip), for results.json
        self.metrics_split = ""  # where the test metrics come from (known after setup; see the module docstring)
        self.no_test_reason = "no test split in the data"  # subclasses say why, for metrics_split
        self._screened: set[str] = set()
        augment = dict(min_crop_scale=min_crop_scale, eval_crop_fraction=eval_crop_fraction,
                       color_jitter=color_jitter, mean=mean, std=std)
        self.train_transform = classification_transforms(True, image_size, **augment)
        self.eval_transform = classification_transforms(False, image_size, **augment)
        self.batch_augment = ClassificationAugment(image_size, min_crop_scale, color_jitter, mean, std)
        self.eval_crop_fraction, self.mean, self.std = eval_crop_fraction, mean, std
        self.decode_cache_gb = decode_cache_gb
        self.cache_short_side = cache_short_side or round(image_size * 8 / 7)
        self.datasets: dict[str, Dataset] = {}
        self.split_samples: dict[str, list] = {}  # each split's samples: (path, label[, box]), in order
        self.train_fingerprint = ""  # of the training samples (data.shards.samples_fingerprint), in checkpoints
        self.class_names: list[str] = []
        self.augment_rng: torch.Generator | None = None  # made on first use: it needs the DDP rank
        self._augmented: list[list[int]] = []  # [batch size, count] runs of the batches augment_rng drew for

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def cached(self) -> bool:
        """Whether the decoded cache serves the data (known after setup)."""
        return isinstance(self.datasets.get("train"), CachedClassificationDataset)

    def image_paths(self, split: str) -> list[Path]:
        """The image files of a split ("train", "val", "test"), in dataset order."""
        self.setup()
        return [Path(s[0]) for s in self.split_samples[split]]

    def list_samples(self) -> dict[str, list | None]:
        """{"train": [...], "val": [...] or None, "test": [...] or None}: lists of (path, label) or (path, label,
        crop box or None); a label is a class index or a vector. No test: test_fraction of train is held out for
        testing (0: the validation split is also tested); no val: val_fraction of train (or, if 0, the test split)
        validates."""
        raise NotImplementedError

    def unreadable(self, paths: Sequence[str | Path], what: str) -> set[str]:
        """The unreadable files among `paths` (as str), screened once per file; with bad_images=skip they are
        added to `skipped_images` (the caller leaves them out), with "error" the first is a DatasetError."""
        fresh = [str(p) for p in paths if str(p) not in self._screened]
        bad = unreadable_images(fresh, self.bad_images, what)
        self._screened.update(fresh)
        self.skipped_images += bad
        return set(bad)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        splits = self.list_samples()
        bad = self.unreadable([s[0] for samples in splits.values() if samples for s in samples],
                              f"{type(self).__name__}")
        if bad:
            splits = {split: None if samples is None else [s for s in samples if str(s[0]) not in bad]
                      for split, samples in splits.items()}
        train, val, test = splits["train"], splits.get("val"), splits.get("test")
        if bad and not train:
            raise DatasetError(f"{type(self).__name__}: none of the training images is readable (e.g. "
                               f"{sorted(bad)[0]}); check the files")
        if val is None and test is None and self.test_fraction > 0:  # one pool: a disjoint test split first
            keep, held = stratified_split([s[1] for s in train], self.test_fraction, self.seed)
            train, test = [train[i] for i in keep], [train[i] for i in held]
        if val is not None:
            test = val if test is None else test
        elif test is None:  # one pool, test_fraction=0: val_fraction of it is held out for validation and test
            keep, held = stratified_split([s[1] for s in train], self.val_fraction, self.seed)
            train, test = [train[i] for i in keep], [train[i] for i in held]
            val = test
        elif self.val_fraction > 0:
            keep, held = stratified_split([s[1] for s in train], self.val_fraction, self.seed)
            train, val = [train[i] for i in keep], [train[i] for i in held]
        else:
            val = test
        self.metrics_split = describe_metrics_split([s[0] for s in train], [s[0] for s in val],
                                                    [s[0] for s in test], self.no_test_reason)
        self.split_samples = {"train": train, "val": val, "test": test}
        self.train_fingerprint = samples_fingerprint(train)
        streaming = {"train": self._dataset(train, self.train_transform),
                     "val": self._dataset(val, self.eval_transform),
                     "test": self._dataset(test, self.eval_transform)}
        if self.source == "shards":  # training from shards (checked now, opened by the loader: after DDP has
            check_shards(Path(self.shards).expanduser() / "train", self.train_fingerprint)  # started, as LitData
            streaming.pop("train")  # splits by the ranks it finds); validation and test from the files
        paths = [str(path) for ds in streaming.values() for path, _ in ds.samples]
        self._name = os.path.commonpath(paths) if paths else "empty"
        what = f"{type(self).__name__} ({self._name})"
        estimate = sum(estimate_bytes(sampled_sizes([p for p, _ in ds.samples]), self._prepared_size(split),
                                      len(ds)) for split, ds in streaming.items())
        if plan_cache(estimate, self.decode_cache_gb, what):
            self.datasets = {split: self._cached(split, ds) for split, ds in streaming.items()}
        else:
            self.datasets = streaming

    def shard_folder(self, split: str) -> Path | None:
        """The shard folder a split streams from (data.source=shards: the training split), else None."""
        return Path(self.shards).expanduser().resolve() / split if self.source == "shards" and split == "train" \
            else None

    def write_shards(self, out: str | Path, split: str = "train", **options) -> Path | None:
        """Write a split's samples as LitData shards into `out`/<split> (prepare.py; data.shards.write_shards
        takes `options`), with the class names and this data's settings in the manifest."""
        self.setup()
        settings = {"data": type(self).__name__, "class_names": list(self.class_names),
                    "metrics_split": self.metrics_split, "skipped_images": list(self.skipped_images)}
        return write_shards(self.split_samples[split], out, split, settings, **options)

    def _dataset(self, samples: list, transform) -> ImageClassificationDataset:
        boxes = [s[2] for s in samples] if samples and len(samples[0]) > 2 else None
        return ImageClassificationDataset([(s[0], s[1]) for s in samples], transform, boxes, self.seed)

    def _prepared_size(self, split: str) -> Callable[[int, int], tuple[int, int]]:
        """(width, height) of an image as the cache stores it."""
        if split != "train":
            return lambda w, h: (self.image_size, self.image_size)
        side = self.cache_short_side
        return lambda w, h: (w, h) if min(w, h) <= side else (max(1, round(w * side / min(w, h))),
                                                             max(1, round(h * side / min(w, h))))

    def prepare_for_cache(self, split: str) -> v2.Compose:
        """The deterministic steps the cache applies once (uint8 tensor out), before any augmentation."""
        if split != "train":
            return v2.Compose([v2.ToImage(), *eval_resize(self.image_size, self.eval_crop_fraction)])
        return v2.Compose([v2.ToImage(), v2.Lambda(partial(shrink_short_side, side=self.cache_short_side))])

    def _cached(self, split: str, streaming: ImageClassificationDataset) -> CachedClassificationDataset:
        paths = [p for p, _ in streaming.samples]
        boxes = hashlib.sha1(json.dumps(streaming.boxes).encode()).hexdigest() if streaming.boxes else None
        train = split == "train"  # validation and test are prepared alike: the same list shares one store
        settings = {"role": "train" if train else "eval", "image_size": self.image_size, "boxes": boxes,
                    "short_side": self.cache_short_side if train else None,
                    "eval_crop_fraction": None if train else self.eval_crop_fraction}
        store = decoded_images(paths, self._name, settings, LoadAndPrepare(streaming, self.prepare_for_cache(split)),
                               self.num_workers)
        return CachedClassificationDataset(streaming, store, train, self.mean, self.std)

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        """Decode the shards' training batches (JPEG bytes from the loader) in this process, shrunk to the cache's
        size (data.shards.decode_batch)."""
        return decode_batch(batch, self.cache_short_side) if isinstance(batch, JpegBatch) else batch

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Augment uint8 training batches (the decoded cache's, the shards') on their device (data.batch_augment):
        a batch with sample ids draws from a generator derived from them (data.batch_augment.batch_generator),
        else from the data module's generator."""
        if isinstance(batch, UInt8Batch):
            if batch.ids is not None:
                generator = batch_generator(self.seed, self.trainer.current_epoch if self.trainer else 0, batch.ids)
            else:
                generator = self._augment_generator(len(batch.images))
            return self.batch_augment(batch.images, batch.sizes, generator), batch.targets
        return batch

    def _augment_generator(self, count: int) -> torch.Generator:
        """The decoded cache's augmentation generator (one per seed and DDP rank), about to draw for a batch of
        `count`; a resumed run's is fast-forwarded first over the batches the checkpoint says it drew for."""
        if self.augment_rng is None:
            self.augment_rng = augment_generator(self.seed, self.trainer.global_rank if self.trainer else 0)
            for size, batches in self._augmented:
                for _ in range(batches):
                    self.batch_augment.skip(size, self.augment_rng)
        if self._augmented and self._augmented[-1][0] == count:
            self._augmented[-1][1] += 1
        else:
            self._augmented.append([count, 1])
        return self.augment_rng

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the data (data.resumable.ResumableData), and how many batches the decode
        cache's augmentation generator has drawn for."""
        return {**super().state_dict(), "augmented": [list(run) for run in self._augmented]}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._augmented = [list(run) for run in state.get("augmented", [])]

    def train_sampler(self, dataset: Dataset):
        """The training split's sampler (None: shuffle); subclasses that need batches of a given make-up (metric
        learning: several images per identity) return theirs."""
        return None

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split == "train" and self.source == "shards":
            dataset = open_shards(self.shards, "train", self.train_fingerprint, ShardRecord(), self.seed)
            if self.train_sampler(self.split_samples["train"]) is not None:
                raise DatasetError(f"{type(self).__name__}: data.source=shards streams the shards in LitData's "
                                   f"order, so batches of several images per identity cannot be drawn: set "
                                   f"data.images_per_identity=0 or data.source=files")
            # read in this process (a few microseconds a record; LitData fetches chunks in a background thread) and
            # decoded here too (on_before_batch_transfer): worker processes would only compete with the step
            self._train_loader = ShardLoader(dataset, batch_size=self.batch_size, num_workers=0,
                                             collate_fn=shard_batch, resume=self.take_resume())
            return self._train_loader
        dataset = self.datasets[split]
        cached = isinstance(dataset, CachedClassificationDataset)
        workers = 0 if cached else self.num_workers
        sampler = None
        if shuffle:
            # the resumable order (data.resumable), or a subclass's; streaming: keyed per-sample draws
            sampler = self.resumed(self.train_sampler(dataset) or EpochSampler(dataset, self.seed, keyed=not cached))
        loader = DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, num_workers=workers,
                            persistent_workers=workers > 0, collate_fn=whole_batch if cached else None,
                            pin_memory=torch.cuda.is_available(), drop_last=shuffle and len(dataset) > self.batch_size,
                            # off the global RNG (data.resumable): the training order's loader, and loaders with
                            # persistent workers (which draw a seed only the first time an epoch iterates them)
                            generator=torch.Generator() if shuffle or workers else None)
        if split == "train":
            self._train_loader = loader
        return loader

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
