"""Your own images, one sub-folder per class (torchvision ImageFolder layout), for fine-tuning.

Either `train_dir` and `val_dir` (the validation folder is also the test split), or one `root` from which
`val_fraction` of every class is held out (validation = test split, seeded).
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
    def __init__(self, root: str | None = None, train_dir: str | None = None, val_dir: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if (root is None) == (train_dir is None):
            raise ValueError("data=image_folder: set either data.root=<folder> (split by data.val_fraction) or "
                             "data.train_dir=<folder> data.val_dir=<folder>")
        if train_dir is not None:
            if val_dir is None:
                raise ValueError("data.val_dir is required with data.train_dir (or use data.root and val_fraction)")
            self._train, self.class_names = list_folder(train_dir, "train_dir")
            self._test, val_classes = list_folder(val_dir, "val_dir")
            if val_classes != self.class_names:
                raise DatasetError(f"data.val_dir classes {val_classes} differ from data.train_dir classes "
                                   f"{self.class_names}")
            self.val_fraction = 0.0
        else:
            self._train, self.class_names = list_folder(root, "root")
            self._test = None
            if self.val_fraction <= 0:
                raise ValueError("data.val_fraction must be > 0 with data.root (it sets the held-out split)")

    def list_samples(self) -> dict[str, list | None]:
        return {"train": self._train, "test": self._test}
