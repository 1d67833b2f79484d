"""Stanford Dogs (Khosla et al. 2011) in its real on-disk layout, and the embedded generated default.

    <root>/Images/<wnid>-<breed>/<file>.jpg
    <root>/lists/train_list.mat, lists/test_list.mat   `file_list` (paths relative to Images/), `labels` (1-based)
    <root>/Annotation/<wnid>-<breed>/<file stem>       VOC XML boxes (optional: only for crop_to_box)

Download the real dataset from http://vision.stanford.edu/aditya86/ImageNetDogs/ (images.tar, lists.tar,
annotation.tar) and extract the three archives into one folder.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from .classification import Box, ClassificationDataModule
from .errors import DatasetError

DOWNLOAD_HINT = ("extract images.tar, lists.tar (and annotation.tar for crop_to_box) from "
                 "http://vision.stanford.edu/aditya86/ImageNetDogs/ into it, or pass data.root=null for the "
                 "embedded generated default")


def read_list(path: Path) -> tuple[list[str], list[int]]:
    """A lists/*.mat file -> (relative image paths, 0-based labels)."""
    if not path.is_file():
        raise DatasetError(f"Stanford Dogs list file not found: {path}; {DOWNLOAD_HINT}")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises several types for a damaged file
        raise DatasetError(f"cannot read Stanford Dogs list {path}: {err}") from None
    for key in ("file_list", "labels"):
        if key not in mat:
            raise DatasetError(f"{path} has no '{key}' variable (found {sorted(k for k in mat if not k.startswith('__'))})")
    files = [str(np.asarray(cell).ravel()[0]) for cell in np.asarray(mat["file_list"]).ravel()]
    labels = np.asarray(mat["labels"]).ravel()
    if len(files) != len(labels):
        raise DatasetError(f"{path}: {len(files)} files but {len(labels)} labels")
    if len(labels) and labels.min() < 1:
        raise DatasetError(f"{path}: labels must be 1-based, found {int(labels.min())}")
    return files, [int(x) - 1 for x in labels]


def read_voc_box(path: Path) -> Box:
    """The union of the object boxes of one Annotation file, as a PIL crop box."""
    try:
        objects = ET.parse(path).getroot().findall("object/bndbox")
        boxes = [[int(float(b.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax")] for b in objects]
    except FileNotFoundError:
        raise DatasetError(f"crop_to_box: annotation file not found: {path} (extract annotation.tar into data.root "
                           f"or set data.crop_to_box=false)") from None
    except (ET.ParseError, TypeError, ValueError) as err:
        raise DatasetError(f"crop_to_box: cannot read VOC annotation {path}: {err}") from None
    if not boxes:
        raise DatasetError(f"crop_to_box: {path} has no <object><bndbox>")
    b = np.array(boxes)
    return int(b[:, 0].min()) - 1, int(b[:, 1].min()) - 1, int(b[:, 2].max()), int(b[:, 3].max())


class StanfordDogsDataModule(ClassificationDataModule):
    """Stanford Dogs from `root`, or (root=None) the embedded generated default in the same layout.

    Args:
        root: the dataset folder (see module docstring); None generates the default into the cache.
        crop_to_box: crop every image to its annotated dog box(es) before augmentation.
        generator: parameters of the embedded default (see data.generate.dogs.DEFAULT_PARAMS).
        **kwargs: see ClassificationDataModule (image_size, batch_size, val_fraction, ...).
    """

    def __init__(self, root: str | None = None, crop_to_box: bool = False, generator: dict | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if root is None:
            from .generate.dogs import ensure_dogs
            self.root = ensure_dogs(generator)
        else:
            if generator:
                raise ValueError("data.generator only applies to the embedded default (data.root=null)")
            self.root = Path(root).expanduser()
        self.crop_to_box = crop_to_box
        if not self.root.is_dir():
            raise DatasetError(f"Stanford Dogs root not found: {self.root}; {DOWNLOAD_HINT}")
        if not (self.root / "Images").is_dir():
            raise DatasetError(f"{self.root} has no Images/ folder; {DOWNLOAD_HINT}")
        self._lists = {split: read_list(self.root / "lists" / f"{split}_list.mat") for split in ("train", "test")}
        self.no_test_reason = "data.val_fraction=0 validates on the test list"
        self.class_names = self._class_names()

    def _class_names(self) -> list[str]:
        """Breed names in label order, from the folders of the listed files (`n02085620-Chihuahua` -> Chihuahua)."""
        folders: dict[int, str] = {}
        for split, (files, labels) in self._lists.items():
            for file, label in zip(files, labels):
                folder = Path(file).parts[0]
                if folders.setdefault(label, folder) != folder:
                    raise DatasetError(f"lists/{split}_list.mat: label {label + 1} is used for both "
                                       f"{folders[label]} and {folder}")
        missing = sorted(set(range(max(folders) + 1)) - set(folders)) if folders else []
        if missing or not folders:
            raise DatasetError(f"{self.root / 'lists'}: labels must cover 1..N; missing {[m + 1 for m in missing]}")
        return [folders[i].split("-", 1)[-1] for i in range(len(folders))]

    def _samples(self, split: str) -> list[tuple[Path, int, Box | None]]:
        files, labels = self._lists[split]
        samples = []
        for file, label in zip(files, labels):
            path = self.root / "Images" / file
            if not path.is_file():
                raise DatasetError(f"lists/{split}_list.mat entry '{file}' points at a missing file: {path}")
            box = read_voc_box(self.root / "Annotation" / Path(file).with_suffix("")) if self.crop_to_box else None
            samples.append((path, label, box))
        return samples

    def list_samples(self) -> dict[str, list]:
        return {"train": self._samples("train"), "test": self._samples("test")}
