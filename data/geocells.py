"""Adaptive S2 cells over the training photos (PlaNet; Mueller-Budack et al. 2018), with the official s2geometry
bindings.

One partitioning: every training photo starts in its S2 cell at `min_level`; a cell holding more than `t_max`
photos is split into its four children, again and again, until none is too big or `max_level` is reached; then
cells holding `t_min` photos or fewer are dropped (their photos are not trained on in this partitioning; they are
counted). Several partitionings (coarse / middle / fine: larger to smaller `t_max`) are built over the same
photos; with a common `t_min` every finer cell lies inside exactly one coarser cell, which hierarchical prediction
uses.

A partition is plain data (saved with the run as partition.json and inside the checkpoint): per partitioning its
name, thresholds and cells (token, level, centre, mean lat/lon of its training photos, count), plus a fingerprint
of the training photos it was built from.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import DatasetError

MAX_LEVEL = 30


def leaf_ids(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """S2 leaf cell ids (uint64) of points in degrees."""
    import s2geometry as s2
    return np.asarray([s2.S2CellId(s2.S2LatLng.FromDegrees(float(a), float(o))).id() for a, o in zip(lat, lon)],
                      dtype=np.uint64)


def parent_ids(ids: np.ndarray, level: int) -> np.ndarray:
    """The ancestors at `level` of S2 cell ids (uint64), as S2CellId.parent(level) computes them: keep the bits
    above the level's lowest bit, set that bit."""
    lsb = np.uint64(1) << np.uint64(2 * (MAX_LEVEL - level))
    return (ids & ~(lsb - np.uint64(1)) & ~lsb) | lsb


def cell_token(cell_id: int) -> str:
    import s2geometry as s2
    return s2.S2CellId(int(cell_id)).ToToken()


def cell_centre(cell_id: int) -> tuple[float, float]:
    import s2geometry as s2
    centre = s2.S2CellId(int(cell_id)).ToLatLng()
    return centre.lat().degrees(), centre.lng().degrees()


def cell_vertices(token: str) -> list[tuple[float, float]]:
    """(lat, lon) of a cell's four corners (for drawing)."""
    import s2geometry as s2
    cell = s2.S2Cell(s2.S2CellId.FromToken(token))
    return [(s2.S2LatLng(cell.GetVertex(k)).lat().degrees(), s2.S2LatLng(cell.GetVertex(k)).lng().degrees())
            for k in range(4)]


def mean_location(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """The mean of points on the sphere (of their unit vectors), in degrees: right across the antimeridian."""
    phi, lam = np.radians(lat), np.radians(lon)
    x, y, z = (np.cos(phi) * np.cos(lam)).mean(), (np.cos(phi) * np.sin(lam)).mean(), np.sin(phi).mean()
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def fingerprint(ids: Sequence[str], lat: np.ndarray, lon: np.ndarray) -> str:
    """What a partition was built from: the training photos' ids and coordinates."""
    digest = hashlib.sha1()
    for i, a, o in zip(ids, lat, lon):
        digest.update(f"{i},{a:.6f},{o:.6f}\n".encode())
    return digest.hexdigest()


def partition_once(ids: np.ndarray, t_min: int, t_max: int, min_level: int, max_level: int) -> tuple[list[int], int]:
    """(kept cell ids, number of photos dropped) for one partitioning of photos with S2 leaf `ids`."""
    pending = [(min_level, cell) for cell in np.unique(parent_ids(ids, min_level)).tolist()]
    members = {(min_level, cell): ids[parent_ids(ids, min_level) == np.uint64(cell)] for _, cell in pending}
    kept, dropped = [], 0
    while pending:
        level, cell = pending.pop()
        inside = members.pop((level, cell))
        if len(inside) > t_max and level < max_level:
            children = parent_ids(inside, level + 1)
            for child in np.unique(children).tolist():
                members[(level + 1, child)] = inside[children == np.uint64(child)]
                pending.append((level + 1, child))
        elif len(inside) > t_min:
            kept.append(int(cell))
        else:
            dropped += len(inside)
    return sorted(kept), dropped


def build_partition(ids: Sequence[str], lat: np.ndarray, lon: np.ndarray, partitionings: Sequence[dict[str, Any]],
                    min_level: int = 2, max_level: int = 14) -> dict[str, Any]:
    """The partition (module docstring) of training photos `ids` at (`lat`, `lon`); `partitionings`: dicts with
    `name`, `t_min`, `t_max`, coarse to fine."""
    if not partitionings:
        raise ValueError("data.partitionings: at least one {name, t_min, t_max} is needed")
    if not 0 <= min_level <= max_level <= MAX_LEVEL:
        raise ValueError(f"data.min_level / max_level must satisfy 0 <= min <= max <= 30, got {min_level}, "
                         f"{max_level}")
    leaves = leaf_ids(lat, lon)
    built = []
    for spec in partitionings:
        name, t_min, t_max = spec["name"], int(spec["t_min"]), int(spec["t_max"])
        if t_max <= t_min or t_min < 0:
            raise ValueError(f"data.partitionings.{name}: need 0 <= t_min < t_max, got t_min={t_min}, t_max={t_max}")
        cells, dropped = partition_once(leaves, t_min, t_max, min_level, max_level)
        if not cells:
            raise DatasetError(f"data.partitionings.{name}: no cell keeps more than t_min={t_min} of the "
                               f"{len(leaves)} training photos (t_max={t_max}, levels {min_level}-{max_level}): "
                               f"lower t_min or t_max")
        rows = []
        for cell in cells:
            level = int(_level(cell))
            inside = parent_ids(leaves, level) == np.uint64(cell)
            mean_lat, mean_lon = mean_location(lat[inside], lon[inside])
            centre_lat, centre_lon = cell_centre(cell)
            rows.append({"token": cell_token(cell), "level": level, "centre": [round(centre_lat, 6),
                         round(centre_lon, 6)], "mean": [round(mean_lat, 6), round(mean_lon, 6)],
                         "count": int(inside.sum())})
        built.append({"name": name, "t_min": t_min, "t_max": t_max, "dropped": dropped, "cells": rows})
    return {"version": 1, "min_level": min_level, "max_level": max_level, "photos": len(leaves),
            "fingerprint": fingerprint(ids, lat, lon), "partitionings": built}


def _level(cell_id: int) -> int:
    """The level of an S2 cell id (from its lowest set bit)."""
    lowest = (cell_id & -cell_id).bit_length() - 1
    return MAX_LEVEL - lowest // 2


class CellLookup:
    """Which cell of each partitioning a point falls in (-1: none, a dropped region), and the hierarchy: for each
    cell of a finer partitioning, the cell of each coarser one that contains it."""

    def __init__(self, partition: dict[str, Any]):
        import s2geometry as s2
        self.partitionings = partition["partitionings"]
        self.ids = [np.asarray([s2.S2CellId.FromToken(c["token"]).id() for c in p["cells"]], dtype=np.uint64)
                    for p in self.partitionings]
        self.levels = [np.asarray([c["level"] for c in p["cells"]]) for p in self.partitionings]
        self.index = [{int(i): k for k, i in enumerate(ids)} for ids in self.ids]

    def cells(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """[N, P] cell index per partitioning (-1: outside every kept cell)."""
        leaves = leaf_ids(lat, lon)
        found = np.full((len(leaves), len(self.ids)), -1, dtype=np.int64)
        for p, (index, levels) in enumerate(zip(self.index, self.levels)):
            for level in np.unique(levels).tolist():
                for row, parent in enumerate(parent_ids(leaves, level).tolist()):
                    k = index.get(int(parent))
                    if k is not None:
                        found[row, p] = k
        return found

    def ancestors(self) -> list[np.ndarray]:
        """For every coarser partitioning p < last: [cells of the finest] -> the index of the containing cell in
        p. A finest cell outside every cell of p is an error (the hierarchy needs a common t_min)."""
        finest, levels = self.ids[-1], self.levels[-1]
        result = []
        for p in range(len(self.ids) - 1):
            parents = np.full(len(finest), -1, dtype=np.int64)
            for level in np.unique(self.levels[p]).tolist():
                for j, cell in enumerate(finest.tolist()):
                    if levels[j] >= level:
                        k = self.index[p].get(int(parent_ids(np.asarray([cell], np.uint64), level)[0]))
                        if k is not None:
                            parents[j] = k
            missing = int((parents < 0).sum())
            if missing:
                raise DatasetError(f"hierarchical prediction: {missing} cells of partitioning "
                                   f"'{self.partitionings[-1]['name']}' lie in no cell of "
                                   f"'{self.partitionings[p]['name']}' (give the partitionings one t_min, coarse "
                                   f"to fine, or set model.hierarchical=false)")
            result.append(parents)
        return result


def save_partition(partition: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(partition, indent=1))


def load_partition(path: str | Path, expected_fingerprint: str | None = None) -> dict[str, Any]:
    """A partition file; with `expected_fingerprint`, one built from other training photos is an error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"data.partition_file: not found: {path}")
    try:
        partition = json.loads(path.read_text())
        partition["partitionings"][0]["cells"][0]["token"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise DatasetError(f"data.partition_file: {path} is not a partition (partition.json of a geolocation run): "
                           f"{err!r}") from None
    if expected_fingerprint and partition.get("fingerprint") != expected_fingerprint:
        raise DatasetError(f"data.partition_file: {path} was built from other training photos "
                           f"({partition.get('photos')} photos, fingerprint {str(partition.get('fingerprint'))[:12]}) "
                           f"than this data set's (fingerprint {expected_fingerprint[:12]}): build a new one "
                           f"(data.partition_file=null)")
    return partition
