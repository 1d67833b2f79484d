"""Geotagged photos for geolocation: CSV files of `image,lat,lon` with an image root.

Real formats: the MP-16 / Im2GPS / Im2GPS3k CSVs (columns `IMG_ID,LAT,LON` are recognised too; other names by
`data.columns`), one file per split (`train_csv`, `val_csv`, `test_csv`), or one file split by `val_fraction` /
`test_fraction` (seeded). Image paths are relative to `image_root` (default: the CSV's folder). A row whose
latitude or longitude is missing, non-numeric or out of range, a duplicate image id, or a missing image is an
error naming the file and line; an unreadable image is left out (`bad_images=skip`, listed in `skipped_images`)
or an error (`bad_images=error`).

Samples carry their coordinates (label [lat, lon]); the partition of the Earth into cells (data.geocells) is built
here from the training photos (or read from `partition_file`), because, like a class list, it is what the model
learns to predict; the model receives it through `label_space()`.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .classification import ClassificationDataModule
from .errors import DatasetError
from .geocells import build_partition, fingerprint, load_partition

log = logging.getLogger(__name__)

COLUMN_SPELLINGS = ({"image": "image", "lat": "lat", "lon": "lon"}, {"image": "IMG_ID", "lat": "LAT", "lon": "LON"})


def read_geo_csv(path: str | Path, columns: dict[str, str] | None = None,
                 image_root: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """(image ids, [N, 2] lat/lon in degrees) of a geotagged CSV; `columns` maps image/lat/lon to header names
    (None: `image,lat,lon` or `IMG_ID,LAT,LON`). With `image_root`, every image must exist under it: the first
    missing one is a DatasetError naming its line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"geotagged CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DatasetError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    spellings = [columns] if columns else COLUMN_SPELLINGS
    chosen = next((s for s in spellings if all(s[k] in header for k in ("image", "lat", "lon"))), None)
    if chosen is None:
        wanted = " or ".join(",".join(s[k] for k in ("image", "lat", "lon")) for s in spellings)
        raise DatasetError(f"{path}:1: the header {header} lacks the columns {wanted} (set data.columns)")
    at = {k: header.index(chosen[k]) for k in ("image", "lat", "lon")}
    ids, coords, seen = [], [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise DatasetError(f"{path}:{number}: {len(row)} fields, the header has {len(header)}")
        image, values = row[at["image"]].strip(), []
        for key, limit in (("lat", 90.0), ("lon", 180.0)):
            text = row[at[key]].strip()
            if not text:
                raise DatasetError(f"{path}:{number}: {chosen[key]} is missing for {image!r}")
            try:
                value = float(text)
            except ValueError:
                raise DatasetError(f"{path}:{number}: {chosen[key]}={text!r} is not a number") from None
            if not -limit <= value <= limit:
                raise DatasetError(f"{path}:{number}: {chosen[key]}={value} is out of range [-{limit:g}, {limit:g}]")
            values.append(value)
        if not image:
            raise DatasetError(f"{path}:{number}: empty {chosen['image']}")
        if image in seen:
            raise DatasetError(f"{path}:{number}: image id {image!r} repeats line {seen[image]}")
        seen[image] = number
        ids.append(image)
        coords.append(values)
    if not ids:
        raise DatasetError(f"{path}: no photos")
    if image_root is not None:
        root = Path(image_root).expanduser()
        missing = [i for i in ids if not (root / i).is_file()]
        if missing:
            raise DatasetError(f"{path}:{seen[missing[0]]}: image {missing[0]!r} not found under {root} "
                               f"({len(missing)} of the file's {len(ids)} images are missing); fix the path or "
                               f"data.image_root")
    return ids, np.asarray(coords, dtype=np.float64).reshape(-1, 2)


class GeoDataModule(ClassificationDataModule):
    """Geotagged photos and their partition into S2 cells; every path null: the embedded generated world
    (data.generate.world).

    Args:
        train_csv, val_csv, test_csv: the splits' CSVs; without test_csv, `test_fraction` of the training rows is
            held out for testing; without val_csv, `val_fraction` for validation (both seeded).
        image_root: the folder image paths are relative to (default: the training CSV's folder).
        columns: header names of image, lat and lon (null: `image,lat,lon` or `IMG_ID,LAT,LON`).
        partitionings: [{name, t_min, t_max}, ...] coarse to fine (data.geocells); min_level, max_level: the S2
            levels cells start at and may not split beyond.
        partition_file: a partition.json to reuse (it must have been built from these training photos).
        generator: parameters of the embedded default.
        **kwargs: see ClassificationDataModule (image_size, batch_size, augmentation, decode cache, ...).
    """

    def __init__(self, train_csv: str | None = None, val_csv: str | None = None, test_csv: str | None = None,
                 image_root: str | None = None, columns: dict[str, str] | None = None, test_fraction: float = 0.1,
                 partitionings: Sequence[dict[str, Any]] = (), min_level: int = 2, max_level: int = 14,
                 partition_file: str | None = None, generator: dict | None = None, **kwargs: Any):
        super().__init__(test_fraction=test_fraction, **kwargs)
        if generator and train_csv is not None:
            raise ValueError("data.generator only applies to the embedded default (data.train_csv=null)")
        if train_csv is None:
            from .generate.world import ensure_world
            root = ensure_world(generator)
            train_csv, val_csv, test_csv = (str(root / f"{s}.csv") for s in ("train", "val", "test"))
        train_csv = Path(train_csv).expanduser()
        self.image_root = Path(image_root).expanduser() if image_root else train_csv.parent
        splits = {"train": read_geo_csv(train_csv, columns, self.image_root)}
        files = {"train": train_csv, "val": val_csv, "test": test_csv}
        for split in ("val", "test"):
            if files[split]:
                splits[split] = read_geo_csv(files[split], columns, self.image_root)
        rng = np.random.default_rng(self.seed)
        for split, fraction in (("test", test_fraction), ("val", self.val_fraction)):
            if split in splits:
                continue
            if not 0 < fraction < 1:
                raise ValueError(f"data.{split}_fraction must be in (0, 1) without data.{split}_csv")
            ids, coords = splits["train"]
            order, count = rng.permutation(len(ids)), max(1, round(len(ids) * fraction))
            held, keep = sorted(order[:count]), sorted(order[count:])
            splits[split] = ([ids[i] for i in held], coords[held])
            splits["train"] = ([ids[i] for i in keep], coords[keep])
        bad = self.unreadable([self.image_root / i for ids, _ in splits.values() for i in ids],
                              f"the geotagged photos ({self.image_root})")
        for split, (ids, coords) in splits.items():
            keep = [n for n, i in enumerate(ids) if str(self.image_root / i) not in bad]
            splits[split] = ([ids[n] for n in keep], coords[keep])
        if not splits["train"][0]:
            raise DatasetError(f"{train_csv}: none of the training photos is readable; check the files")
        self.splits = splits
        ids, coords = splits["train"]
        if partition_file:
            self.partition = load_partition(partition_file, fingerprint(ids, coords[:, 0], coords[:, 1]))
        else:
            self.partition = build_partition(ids, coords[:, 0], coords[:, 1], list(partitionings), min_level,
                                             max_level)
        counts = ", ".join(f"{p['name']} {len(p['cells'])} cells ({p['dropped']} photos dropped)"
                           for p in self.partition["partitionings"])
        log.info("partition of %d training photos: %s", len(ids), counts)

    def label_space(self) -> dict[str, Any]:
        """What the model learns to predict: the partition."""
        return {"partition": self.partition}

    def coordinates(self, split: str) -> np.ndarray:
        """[N, 2] lat/lon of a split's photos, in dataset order."""
        return self.splits[split][1]

    def images(self, split: str) -> list[tuple[str, Path]]:
        return [(i, self.image_root / i) for i in self.splits[split][0]]

    def list_samples(self) -> dict[str, list]:
        return {split: [(self.image_root / i, c.astype(np.float32)) for i, c in zip(ids, coords)]
                for split, (ids, coords) in self.splits.items()}
