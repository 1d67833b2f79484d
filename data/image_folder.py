"""Your own images, one sub-folder per class (torchvision ImageFolder layout), for fine-tuning.

Either `train_dir`, `val_dir` and optionally `test_dir` (without it the validation folder is also the test split,
and `metrics_split` says so), or one `root` from which `test_fraction` and `val_fraction` of every class are held
out (stratified, seeded, disjoint): the test split is never the one the checkpoint was selected on.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torchvision.datasets import ImageFolder

from .classification import ClassificationDataModule
from .errors import DatasetError


def list_folder(folder: str | Path, key: str) -> tuple[list[tuple[Path, int]], list[str]]:
    """(path, label) samples and class names of an ImageFolder tree; errors name the config key."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"data.{key}: folder not found: {folder} (expected <folder>/<class name>/<image>)")
    try:
        tree = ImageFolder(str(folder), loader=lambda p: p)
    except (FileNotFoundError, RuntimeError) as err:
        raise DatasetError(f"data.{key}={folder}: {err} (expected <folder>/<class name>/<image>)") from None
    return [(Path(p), label) for p, label in tree.samples], list(tree.classes)


class ImageFolderDataModule(ClassificationDataModule):
    """Args: root (one folder, split by test_fraction and val_fraction), or train_dir, val_dir and optionally
    test_dir; **kwargs: see ClassificationDataModule."""

    def __init__(self, root: str | None = None, train_dir: str | None = None, val_dir: str | None = None,
                 test_dir: str | None = None, test_fraction: float = 0.1, **kwargs: Any):
        super().__init__(test_fraction=test_fraction, **kwargs)
        if (root is None) == (train_dir is None):
            raise ValueError("data=image_folder: set either data.root=<folder> (split by data.val_fraction and "
                             "data.test_fraction) or data.train_dir=<folder> data.val_dir=<folder> [data.test_dir]")
        self._val = self._test = None
        if train_dir is not None:
            if val_dir is None:
                raise ValueError("data.val_dir is required with data.train_dir (or use data.root and val_fraction)")
            self._train, self.class_names = list_folder(train_dir, "train_dir")
            for key, folder in (("val_dir", val_dir), ("test_dir", test_dir)):
                if folder is None:
                    continue
                samples, classes = list_folder(folder, key)
                if classes != self.class_names:
                    raise DatasetError(f"data.{key} classes {classes} differ from data.train_dir classes "
                                       f"{self.class_names}")
                setattr(self, f"_{key[:-4]}", samples)
            self.test_fraction = 0.0
            self.no_test_reason = "no data.test_dir"
        else:
            self._train, self.class_names = list_folder(root, "root")
            if self.val_fraction <= 0:
                raise ValueError("data.val_fraction must be > 0 with data.root (it sets the validation split)")
            self.no_test_reason = "data.test_fraction=0"

    def list_samples(self) -> dict[str, list | None]:
        return {"train": self._train, "val": self._val, "test": self._test}
