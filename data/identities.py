"""Face identities for embedding training and LFW-style verification.

Real on-disk formats:
- Training faces as identity folders, `<root>/<identity>/<image>` (the VGGFace2 / CASIA-WebFace / MS1M layout;
  images found recursively under each identity folder).
- Verification pairs in LFW's `pairs.txt` form (https://vis-www.cs.umass.edu/lfw/README.txt): a header `10 300`
  (folds, pairs of each kind per fold; View 2) or one number (pairsDevTest.txt: one fold), then per fold that
  many matched lines `name n1 n2` followed by as many mismatched lines `name1 n1 name2 n2`, tabs or spaces, CRLF
  tolerated; image n of a person is `<lfw_root>/<name>/<name>_<n as 4 digits>.jpg`. A pair naming a missing image
  is an error, never a silent skip: a skip shifts every later fold.

Splits: train = the identity folders, minus `val_identities` of them (seeded) held out for validation; test = every
image of the people the pairs file names. Unreadable training images, and test images no pair names, are left out
with `bad_images=skip` (before the `min_images_per_identity` count); an unreadable image a pair names is always an
error (the protocol cannot leave it out). Validation and test samples carry their index in the split, so the task
can compare all pairs of images (`identities(split)`) and the file's pairs (`pairs("test")`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_metric_learning.samplers import MPerClassSampler

from .attributes import IMAGE_SUFFIXES
from .classification import ClassificationDataModule
from .errors import DatasetError
from .images import image_problems
from .resumable import draw_loader_seed, numpy_state, random_state, restore_numpy_state, restore_random_state

log = logging.getLogger(__name__)


class IdentityBatchSampler(MPerClassSampler):
    """pytorch-metric-learning's MPerClassSampler (batches of `m` images of each of batch_size / m identities, drawn
    from NumPy's global RNG when an epoch starts; it shuffles its identity order in place) with the resumable
    sampler's interface (data.resumable.EpochSampler: `set_epoch`, `position`, `resume`). A position holds the
    NumPy state and identity order its epoch started from, and the order after it: a resumed epoch draws the same
    batches again and leaves out those trained; a resumed finished epoch starts the next one where the uninterrupted
    run would have. The images' augmentation draws from the process's RNG as it always did (the decode cache's
    generator, or the global RNG with num_workers=0, which the position restores; loader workers' RNGs are not
    saved: a streamed run with workers resumes at its step with other augmentation draws)."""

    def __init__(self, labels, m: int, batch_size: int, length: int):
        super().__init__(labels, m, batch_size=batch_size, length_before_new_iter=length)
        self.epoch = 0
        self._start: list | None = None  # [NumPy state, identity order] when the current epoch was drawn
        self._resume: dict[str, Any] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, position: dict[str, Any]) -> None:
        self._resume = position
        self.set_epoch(position["epoch"] + 1 if position["finished"] else position["epoch"])

    def position(self, batches: int, batch_size: int, finished: bool) -> dict[str, Any]:
        return {"epoch": self.epoch, "start": self._start, "order": torch.as_tensor(np.asarray(self.labels)),
                "samples": 0 if finished else batches * batch_size, "finished": finished, "random": random_state()}

    def __iter__(self):
        resume, self._resume = self._resume, None
        skip = 0 if resume is None or resume["finished"] else resume["samples"]
        if skip:  # the epoch the checkpoint stood in, drawn again from where it started
            restore_numpy_state(resume["start"][0])
            self.labels = resume["start"][1].tolist()
        else:
            if resume is not None:  # after a finished epoch: where the uninterrupted run stood
                restore_random_state(resume["random"])
                self.labels = resume["order"].tolist()
            draw_loader_seed()
        self._start = [numpy_state(), torch.as_tensor(np.asarray(self.labels))]
        order = list(super().__iter__())
        if skip:
            restore_random_state(resume["random"])
        for index in order[skip:]:
            yield int(index)


@dataclass
class Pairs:
    """Verification pairs over a list of images: indices `left`, `right` into `paths`, `same` (matched), `fold`."""
    paths: list[Path]
    left: np.ndarray
    right: np.ndarray
    same: np.ndarray
    fold: np.ndarray

    @property
    def folds(self) -> int:
        return int(self.fold.max()) + 1 if len(self.fold) else 0


def read_pairs(path: str | Path, image_root: str | Path) -> Pairs:
    """An LFW pairs file (module docstring); every named image must exist under `image_root`."""
    path, image_root = Path(path).expanduser(), Path(image_root).expanduser()
    if not path.is_file():
        raise DatasetError(f"data.pairs: pairs file not found: {path}")
    lines = [(number, line.split()) for number, line in enumerate(path.read_text(encoding="utf-8-sig")
                                                                     .splitlines(), start=1) if line.strip()]
    if not lines:
        raise DatasetError(f"{path}: empty pairs file")
    header_line, header = lines[0]
    if len(header) not in (1, 2) or not all(h.isdigit() for h in header):
        raise DatasetError(f"{path}:{header_line}: expected a header '<folds> <pairs per fold>' (e.g. '10 300') or "
                           f"'<pairs>' (pairsDevTest.txt), got {' '.join(header)!r}")
    folds, per_fold = (1, int(header[0])) if len(header) == 1 else (int(header[0]), int(header[1]))
    body = lines[1:]
    if folds < 1 or per_fold < 1 or len(body) != 2 * folds * per_fold:
        raise DatasetError(f"{path}:{header_line}: the header announces {folds} fold(s) of {per_fold} matched and "
                           f"{per_fold} mismatched pairs ({2 * folds * per_fold} lines), the file has {len(body)} "
                           f"pair lines")
    index: dict[Path, int] = {}
    rows = []
    for position, (number, fields) in enumerate(body):
        fold, matched = position // (2 * per_fold), position % (2 * per_fold) < per_fold
        expected = 3 if matched else 4
        if len(fields) not in (3, 4):
            raise DatasetError(f"{path}:{number}: expected 'name n1 n2' or 'name1 n1 name2 n2', got "
                               f"{' '.join(fields)!r}")
        if len(fields) != expected:
            raise DatasetError(f"{path}:{number}: a {'mismatched' if matched else 'matched'} pair where fold "
                               f"{fold + 1}'s {'matched' if matched else 'mismatched'} pairs are expected (the header "
                               f"says {per_fold} of each per fold, matched first)")
        names = [fields[0], fields[0]] if matched else [fields[0], fields[2]]
        numbers = [fields[1], fields[2]] if matched else [fields[1], fields[3]]
        if not all(n.isdigit() for n in numbers):
            raise DatasetError(f"{path}:{number}: image numbers must be integers, got {numbers}")
        ends = []
        for name, n in zip(names, numbers):
            image = image_root / name / f"{name}_{int(n):04d}.jpg"
            if image not in index:
                if not image.is_file():
                    raise DatasetError(f"{path}:{number}: pair names a missing image {image}")
                index[image] = len(index)
            ends.append(index[image])
        rows.append((*ends, matched, fold))
    table = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    return Pairs(list(index), table[:, 0], table[:, 1], table[:, 2].astype(bool), table[:, 3])


def identity_folders(root: str | Path, key: str) -> dict[str, list[Path]]:
    """{identity: its image paths, sorted} for `<root>/<identity>/...` (recursive inside each identity)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{key}: folder not found: {root}")
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if images:
            found[folder.name] = images
    if not found:
        raise DatasetError(f"{key}: no identity folders with images ({', '.join(IMAGE_SUFFIXES)}) under {root}; "
                           f"expected <root>/<identity>/<image>")
    return found


class IdentityDataModule(ClassificationDataModule):
    """Training identities (folders) and verification data (an LFW pairs file); all null: the embedded generated
    default (data.generate.identities).

    Args:
        root: the training identity folders.
        lfw_root, pairs: the verification images (LFW layout) and their pairs file; null: `<root>/../lfw` and
            `<root>/../pairs.txt` (the embedded default's layout).
        val_identities: share of the training identities held out (seeded) for validation on all their pairs.
        min_images_per_identity: fewest images an identity needs for the loss's mining (an anchor and a positive:
            2); fewer is an error unless `small_identities=skip` (then they are left out and counted).
        images_per_identity: images of each identity in a training batch (pytorch-metric-learning's
            MPerClassSampler), so every batch holds positives to mine; 0: plain shuffling (distillation).
        distill: serve the training split as (image, index into images("train")), without identities.
        generator: parameters of the embedded default (data.generate.identities.DEFAULT_PARAMS).
        **kwargs: see ClassificationDataModule (image_size, batch_size, augmentation, decode cache, ...).
    """

    def __init__(self, root: str | None = None, lfw_root: str | None = None, pairs: str | None = None,
                 val_identities: float = 0.1, min_images_per_identity: int = 2, small_identities: str = "error",
                 images_per_identity: int = 4, distill: bool = False, generator: dict | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if small_identities not in ("error", "skip"):
            raise ValueError(f"data.small_identities must be 'error' or 'skip', got {small_identities!r}")
        if not 0 < val_identities < 1:
            raise ValueError(f"data.val_identities must be in (0, 1), got {val_identities}")
        if generator and root is not None:
            raise ValueError("data.generator only applies to the embedded default (data.root=null)")
        if root is None:
            from .generate.identities import ensure_identities
            root = str(ensure_identities(generator) / "train")
        self.root = Path(root).expanduser()
        self.lfw_root = Path(lfw_root).expanduser() if lfw_root else self.root.parent / "lfw"
        self.pairs_file = Path(pairs).expanduser() if pairs else self.root.parent / "pairs.txt"
        self.distill, self.images_per_identity = distill, images_per_identity
        identities = identity_folders(self.root, "data.root")
        bad = self.unreadable([p for images in identities.values() for p in images], f"data.root ({self.root})")
        identities = {name: kept for name, images in identities.items()
                      if (kept := [p for p in images if str(p) not in bad])}
        minimum = 1 if distill else min_images_per_identity
        small = {name: len(images) for name, images in identities.items() if len(images) < minimum}
        if small and small_identities == "error":
            name, count = next(iter(small.items()))
            raise DatasetError(f"data.root: identity {self.root / name} has {count} image(s); the loss's mining needs "
                               f"at least data.min_images_per_identity={minimum} ({len(small)} identities have "
                               f"fewer): add images, or set data.small_identities=skip to leave them out")
        if small:
            log.warning("data.small_identities=skip: left out %d identities with fewer than %d images (%d images)",
                        len(small), minimum, sum(small.values()))
        identities = {k: v for k, v in identities.items() if k not in small}
        if len(identities) < 2:
            raise DatasetError(f"data.root: {self.root} needs at least 2 identities, found {len(identities)}")
        names = sorted(identities)
        order = np.random.default_rng(self.seed).permutation(len(names))
        held = set(order[:max(1, round(len(names) * val_identities))].tolist())
        self.class_names = [n for i, n in enumerate(names) if i not in held]
        val_names = [n for i, n in enumerate(names) if i in held]
        self._train = [(p, label) for label, n in enumerate(self.class_names) for p in identities[n]]
        self._val = [(p, label) for label, n in enumerate(val_names) for p in identities[n]]
        self._pairs = read_pairs(self.pairs_file, self.lfw_root)
        paired = image_problems(self._pairs.paths)
        if paired:  # whatever bad_images says: leaving a paired image out would shift the protocol's folds
            image, problem = next(iter(paired.items()))
            raise DatasetError(f"{self.pairs_file}: a pair names the unreadable image {image} ({problem}; "
                               f"{len(paired)} such image(s)); replace the file, the pairs protocol cannot leave "
                               f"it out")
        self._screened.update(map(str, self._pairs.paths))
        people = sorted({p.parent.name for p in self._pairs.paths})
        test = [(p, label) for label, n in enumerate(people)
                for p in sorted(q for q in (self.lfw_root / n).iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)]
        bad = self.unreadable([p for p, _ in test], f"data.lfw_root ({self.lfw_root})")
        test = [(p, label) for p, label in test if str(p) not in bad]
        position = {p: i for i, (p, _) in enumerate(test)}
        self._test = test
        self._pairs_index = (np.asarray([position[self._pairs.paths[i]] for i in self._pairs.left]),
                             np.asarray([position[self._pairs.paths[i]] for i in self._pairs.right]))

    # ---------------------------------------------------------------------------------------------- interface
    def images(self, split: str) -> list[tuple[str, Path]]:
        """(id, path) of a split's images in dataset order; ids are paths relative to the split's root folder."""
        samples, base = {"train": (self._train, self.root), "val": (self._val, self.root),
                         "test": (self._test, self.lfw_root)}[split]
        return [(p.relative_to(base).as_posix(), p) for p, _ in samples]

    def identities(self, split: str) -> np.ndarray:
        """Identity index of each image of a split, in dataset order."""
        samples = {"train": self._train, "val": self._val, "test": self._test}[split]
        return np.asarray([label for _, label in samples], dtype=np.int64)

    def pairs(self, split: str) -> Pairs | None:
        """The pairs file's pairs as indices into the test split (None for other splits: all pairs are used)."""
        if split != "test":
            return None
        left, right = self._pairs_index
        return Pairs([p for p, _ in self._test], left, right, self._pairs.same, self._pairs.fold)

    def list_samples(self) -> dict[str, list]:
        train = [(p, i) for i, (p, _) in enumerate(self._train)] if self.distill else self._train
        return {"train": train, "val": [(p, i) for i, (p, _) in enumerate(self._val)],
                "test": [(p, i) for i, (p, _) in enumerate(self._test)]}

    def train_sampler(self, dataset):
        """M images per identity in every batch, so the loss's miner finds positives (not when distilling)."""
        if self.distill or not self.images_per_identity:
            return None
        if self.batch_size % self.images_per_identity:
            raise ValueError(f"data.batch_size={self.batch_size} must be a multiple of data.images_per_identity="
                             f"{self.images_per_identity}")
        return IdentityBatchSampler(self.identities("train"), self.images_per_identity, self.batch_size,
                                    len(dataset))

