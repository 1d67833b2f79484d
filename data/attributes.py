"""Multi-label attribute data (the face_attributes task): CelebA's real files, a custom CSV, unlabelled folders.

CelebA layout (http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, "Align&Cropped Images" and "Anno"/"Eval"):
    <root>/img_align_celeba/000001.jpg ...
    <root>/list_attr_celeba.txt       line 1: image count; line 2: attribute names (any names, any number; the
                                      real header ends with a space); then `<image> v1 v2 ...` with values in
                                      {-1, 1} separated by one or more spaces
    <root>/list_eval_partition.txt    `<image> <0 train | 1 val | 2 test>`
    <root>/unlabelled/**              optional: more images without labels (read recursively), used only by
                                      distillation; the embedded default writes one
Custom CSV: `image,attr_a,attr_b,...` (a header row; image paths relative to `image_root`), values 0/1 or -1/1;
an empty cell means "unknown": that attribute is left out of the loss and the AP for that image.

Labels are float vectors (1 positive, 0 negative, NaN unknown). Image ids, which precomputed teacher outputs use,
are paths relative to their folder (CelebA: `000001.jpg`; CSV: the `image` cell; unlabelled: relative to that
unlabelled folder). With `distill=true` the training split is every training image plus the unlabelled pool and
each sample's target is its index in `images("train")`: the task looks up its teacher's outputs there and no
label is read.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .classification import ClassificationDataModule
from .errors import DatasetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
PARTITIONS = {"0": "train", "1": "val", "2": "test"}
DOWNLOAD_HINT = ("CelebA: put img_align_celeba/, list_attr_celeba.txt and list_eval_partition.txt in one folder "
                 "(http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html), or pass data.root=null for the embedded "
                 "generated default")


def _lines(path: Path) -> list[str]:
    """The file's lines (CRLF or LF); a missing file is a DatasetError."""
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    with open(path, newline=None, encoding="utf-8") as f:
        return f.read().splitlines()


def check_names(names: Sequence[str], where: str) -> list[str]:
    """Attribute names: at least one, none repeated."""
    if not names:
        raise DatasetError(f"{where}: no attribute names")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DatasetError(f"{where}: attribute '{name}' is named twice")
        seen.add(name)
    return list(names)


def read_celeba_attributes(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """`list_attr_celeba.txt` -> (attribute names, image names, labels float32 [N, A] in {0, 1})."""
    path = Path(path)
    lines = _lines(path)
    if len(lines) < 2:
        raise DatasetError(f"{path}: expected a count line and a header line of attribute names")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DatasetError(f"{path}:1: expected the number of images, got {lines[0].strip()[:40]!r}") from None
    names = check_names(lines[1].split(), f"{path}:2")
    images, rows, where = [], [], {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            raise DatasetError(f"{path}:{number}: {len(fields) - 1} values for {len(names)} attributes")
        bad = next((v for v in fields[1:] if v not in ("1", "-1")), None)
        if bad is not None:
            raise DatasetError(f"{path}:{number}: value {bad!r} is not -1 or 1")
        if fields[0] in where:
            raise DatasetError(f"{path}:{number}: image {fields[0]} is listed again (first at line {where[fields[0]]})")
        where[fields[0]] = number
        images.append(fields[0])
        rows.append([v == "1" for v in fields[1:]])
    if len(images) != count:
        raise DatasetError(f"{path}:1: says {count} images, the file lists {len(images)}")
    return names, images, np.asarray(rows, dtype=np.float32).reshape(len(images), len(names))


def read_celeba_partition(path: str | Path) -> dict[str, str]:
    """`list_eval_partition.txt` -> {image name: "train" | "val" | "test"}."""
    path = Path(path)
    split: dict[str, str] = {}
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in PARTITIONS:
            raise DatasetError(f"{path}:{number}: expected '<image> <0|1|2>', got {line.strip()[:60]!r}")
        if fields[0] in split:
            raise DatasetError(f"{path}:{number}: image {fields[0]} is listed again")
        split[fields[0]] = PARTITIONS[fields[1]]
    return split


def read_attribute_csv(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """A custom CSV `image,attr,...` -> (attribute names, image cells, labels float32 [N, A]: 1, 0 or NaN).

    Values are 0/1 or -1/1 (one convention per file: a 0 in a -1/1 file would be ambiguous); empty = unknown."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"attribute CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
        rows = list(csv.reader(f))
    if not rows or not rows[0] or rows[0][0].strip().lower() not in ("image", "image_id", "file"):
        raise DatasetError(f"{path}:1: expected a header row 'image,<attribute>,...'")
    names = check_names([n.strip() for n in rows[0][1:]], f"{path}:1")
    images, values, where = [], [], {}
    convention: tuple[str, int] | None = None  # ("-1/1" or "0/1", line that decided it)
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names) + 1:
            raise DatasetError(f"{path}:{number}: {len(row) - 1} values for {len(names)} attributes")
        image = row[0].strip()
        if image in where:
            raise DatasetError(f"{path}:{number}: image {image} is listed again (first at line {where[image]})")
        where[image] = number
        vector = []
        for name, cell in zip(names, row[1:]):
            cell = cell.strip()
            if cell == "":
                vector.append(np.nan)
                continue
            if cell not in ("0", "1", "-1"):
                raise DatasetError(f"{path}:{number}: {name} = {cell!r}; expected 0/1 or -1/1, or empty for unknown")
            if cell != "1":
                kind = "-1/1" if cell == "-1" else "0/1"
                if convention is None:
                    convention = (kind, number)
                elif convention[0] != kind:
                    raise DatasetError(f"{path}:{number}: {name} = {cell} but line {convention[1]} uses "
                                       f"{convention[0]} values; use one convention (an empty cell means unknown)")
            vector.append(1.0 if cell == "1" else 0.0)
        images.append(image)
        values.append(vector)
    return names, images, np.asarray(values, dtype=np.float32).reshape(len(images), len(names))


def list_images(folder: str | Path, key: str) -> list[tuple[str, Path]]:
    """(id relative to `folder`, path) of every image under `folder`, recursively, sorted."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{key}: folder not found: {folder}")
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not found:
        raise DatasetError(f"{key}: no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    return [(p.relative_to(folder).as_posix(), p) for p in found]


class Labelled:
    """One split of labelled images: ids, paths and labels [N, A] (NaN unknown)."""

    def __init__(self, ids: list[str], paths: list[Path], labels: np.ndarray):
        self.ids, self.paths, self.labels = ids, paths, labels

    def subset(self, index: Sequence[int]) -> "Labelled":
        return Labelled([self.ids[i] for i in index], [self.paths[i] for i in index], self.labels[list(index)])


def _resolve(image_root: Path, ids: list[str], listed_in: Path) -> list[Path]:
    paths = [image_root / i for i in ids]
    missing = [i for i, p in zip(ids, paths) if not p.is_file()]
    if missing:
        raise DatasetError(f"{listed_in} lists {len(missing)} image(s) missing under {image_root}, e.g. {missing[:3]}")
    return paths


class AttributesDataModule(ClassificationDataModule):
    """Attribute classification data: CelebA files (`root`) or a custom CSV (`csv`), with optional unlabelled
    folders for distillation; `root` and `csv` both null: the embedded generated default (CelebA layout).

    Args:
        root: a folder in the CelebA layout (module docstring).
        csv, image_root: a custom training CSV and the folder its image paths are relative to (default: the CSV's).
        val_csv, test_csv: validation / test CSVs (same columns). With neither, `test_fraction` and then
            `val_fraction` of the training rows are held out (seeded, disjoint) for testing and validation; with
            only test_csv, `val_fraction` validates; with only val_csv, the validation split is also the test split
            (`metrics_split` says so), as with test_fraction=0.
        unlabelled: folders of extra images without labels (recursive) for distillation; null: `<root>/unlabelled`
            if it exists; []: none.
        distill: serve the training split as (image, index into images("train")) over the labelled training
            images and the unlabelled pool, without labels (see module docstring).
        generator: parameters of the embedded default (data.generate.faces.DEFAULT_PARAMS).
        **kwargs: see ClassificationDataModule (image_size, batch_size, augmentation, decode cache, ...).
    """

    def __init__(self, root: str | None = None, csv: str | None = None, image_root: str | None = None,
                 val_csv: str | None = None, test_csv: str | None = None,
                 unlabelled: str | Sequence[str] | None = None, distill: bool = False,
                 generator: dict | None = None, test_fraction: float = 0.1, **kwargs: Any):
        super().__init__(test_fraction=test_fraction, **kwargs)
        if root is not None and csv is not None:
            raise ValueError("set data.root (CelebA layout) or data.csv (custom CSV), not both")
        if generator and (root is not None or csv is not None):
            raise ValueError("data.generator only applies to the embedded default (data.root=null, data.csv=null)")
        if root is None and csv is None:
            from .generate.faces import ensure_faces
            root = str(ensure_faces(generator))
        self.distill = distill
        if root is not None:
            self.root = Path(root).expanduser()
            self.class_names, self.splits = self._read_celeba(self.root)
        else:
            self.root = Path(csv).expanduser().parent
            self.class_names, self.splits = self._read_csvs(Path(csv).expanduser(), image_root, val_csv, test_csv)
        if unlabelled is None:
            unlabelled = [str(self.root / "unlabelled")] if (self.root / "unlabelled").is_dir() else []
        elif isinstance(unlabelled, str):
            unlabelled = [unlabelled]
        self.unlabelled = [item for i, folder in enumerate(unlabelled)
                           for item in list_images(folder, f"data.unlabelled[{i}]")]
        self._leave_out_unreadable()
        self._check_unique_ids()

    # -------------------------------------------------------------------------------------------------- reading
    def _read_celeba(self, root: Path) -> tuple[list[str], dict[str, Labelled]]:
        if not root.is_dir():
            raise DatasetError(f"CelebA root not found: {root}; {DOWNLOAD_HINT}")
        attr_file, partition_file = root / "list_attr_celeba.txt", root / "list_eval_partition.txt"
        for required in (attr_file, partition_file, root / "img_align_celeba"):
            if not required.exists():
                raise DatasetError(f"{root} has no {required.name}; {DOWNLOAD_HINT}")
        names, images, labels = read_celeba_attributes(attr_file)
        partition = read_celeba_partition(partition_file)
        only_attr, only_partition = sorted(set(images) - set(partition)), sorted(set(partition) - set(images))
        if only_attr or only_partition:
            raise DatasetError(f"{attr_file.name} and {partition_file.name} list different images: "
                               f"{len(only_attr)} only in the first (e.g. {only_attr[:3]}), "
                               f"{len(only_partition)} only in the second (e.g. {only_partition[:3]})")
        everything = Labelled(images, _resolve(root / "img_align_celeba", images, attr_file), labels)
        splits = {split: everything.subset([i for i, name in enumerate(images) if partition[name] == split])
                  for split in ("train", "val", "test")}
        if not len(splits["train"].ids):
            raise DatasetError(f"{partition_file}: no training images (partition 0)")
        if not len(splits["val"].ids) and not len(splits["test"].ids):
            raise DatasetError(f"{partition_file}: no validation (1) or test (2) images")
        if not splits["test"].ids:
            self.no_test_reason = f"{partition_file.name} has no test (2) images"
        if not splits["val"].ids:
            self.no_test_reason = f"{partition_file.name} has no validation (1) images: the test split validates"
        splits["val"] = splits["val"] if splits["val"].ids else splits["test"]
        splits["test"] = splits["test"] if splits["test"].ids else splits["val"]
        return names, splits

    def _read_csvs(self, train_csv: Path, image_root: str | None, val_csv: str | None,
                   test_csv: str | None) -> tuple[list[str], dict[str, Labelled]]:
        root = Path(image_root).expanduser() if image_root else train_csv.parent
        splits: dict[str, Labelled] = {}
        names: list[str] = []
        for split, file in (("train", train_csv), ("val", val_csv), ("test", test_csv)):
            if file is None:
                continue
            file = Path(file).expanduser()
            file_names, images, labels = read_attribute_csv(file)
            if names and file_names != names:
                raise DatasetError(f"{file}:1: attributes {file_names} differ from {train_csv}'s {names}")
            names = file_names
            splits[split] = Labelled(images, _resolve(root, images, file), labels)
        held_out = [("val", self.val_fraction)]
        if "val" not in splits and "test" not in splits and self.test_fraction > 0:
            held_out.insert(0, ("test", self.test_fraction))  # one CSV: a disjoint test split first
        for split, fraction in held_out:
            if split in splits:
                continue
            if not 0 < fraction < 1:
                raise ValueError(f"data.{split}_fraction must be in (0, 1) without data.{split}_csv")
            order = np.random.default_rng(self.seed).permutation(len(splits["train"].ids))
            held = max(1, round(len(order) * fraction))
            splits[split] = splits["train"].subset(sorted(order[:held]))
            splits["train"] = splits["train"].subset(sorted(order[held:]))
        if "test" not in splits:
            self.no_test_reason = "no data.test_csv" + ("" if self.test_fraction > 0 else " and data.test_fraction=0")
        splits.setdefault("test", splits["val"])
        return names, splits

    def _leave_out_unreadable(self) -> None:
        """Unreadable labelled or unlabelled images: left out with their labels (bad_images=skip) or an error."""
        paths = [p for split in self.splits.values() for p in split.paths] + [p for _, p in self.unlabelled]
        bad = self.unreadable(paths, f"the attribute data ({self.root})")
        if not bad:
            return
        self.splits = {split: labelled.subset([i for i, p in enumerate(labelled.paths) if str(p) not in bad])
                       for split, labelled in self.splits.items()}
        self.unlabelled = [(i, p) for i, p in self.unlabelled if str(p) not in bad]
        if not self.splits["train"].ids:
            raise DatasetError(f"none of the training images of {self.root} is readable (e.g. {sorted(bad)[0]}); "
                               f"check the files")

    def _check_unique_ids(self) -> None:
        """Teacher outputs are looked up by id: two training images may not share one."""
        seen: dict[str, str] = {}
        for image_id, path in self.images("train"):
            if image_id in seen:
                raise DatasetError(f"image id {image_id!r} names both {seen[image_id]} and {path}: ids are paths "
                                   f"relative to their folder; rename one")
            seen[image_id] = str(path)

    # ---------------------------------------------------------------------------------------------- interface
    def images(self, split: str) -> list[tuple[str, Path]]:
        """(id, path) of a split's images in dataset order; "train" with distill includes the unlabelled pool."""
        labelled = self.splits[split]
        pairs = list(zip(labelled.ids, labelled.paths))
        return pairs + self.unlabelled if split == "train" and self.distill else pairs

    def labels(self, split: str) -> np.ndarray:
        """A labelled split's labels [N, A] (1, 0, NaN unknown) in dataset order."""
        return self.splits[split].labels

    def list_samples(self) -> dict[str, list]:
        def labelled(split: str) -> list:
            return list(zip(self.splits[split].paths, self.splits[split].labels))
        train = [(path, index) for index, (_, path) in enumerate(self.images("train"))] if self.distill \
            else labelled("train")
        return {"train": train, "val": labelled("val"), "test": labelled("test")}
