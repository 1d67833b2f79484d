"""Predict on new images with a trained model (checkpoint or exported file): one JSON record per image, through the
task's own hooks (preprocessing, batching, description, annotation)."""
from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from PIL import Image
from torchvision.io import write_png

from data.attributes import IMAGE_SUFFIXES
from data.images import displayed_rgb, load_rgb
from data.errors import DatasetError
from data.shards import ShardRecords, is_shard_folder

from .load import LoadedModel, load_model

ImageLike = str | Path | Image.Image | np.ndarray


class ShardImage:
    """One record of a shard folder as a predict.py input, named by the file it was written from once read."""

    def __init__(self, records: ShardRecords, index: int):
        self.records, self.index = records, index
        self.name = f"{records.folder}#{index}"

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def __str__(self) -> str:
        return self.name

    def load(self) -> Image.Image:
        self.name, image, _ = self.records[self.index]
        return image


class ShardImages(Sequence):
    """A shard folder's records as a lazy sequence of ShardImage (millions need no list)."""

    def __init__(self, folder: Path):
        self.records = ShardRecords(folder)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return ShardImage(self.records, index)


def list_sources(source: str | Path) -> Sequence[Path | ShardImage]:
    """An image file, a folder (recursively), a glob pattern, a .txt list (one image path per line, relative paths
    from the list's folder) -> image paths, sorted (a list keeps its order); a shard folder (prepare.py's
    <out>/<split>) -> its records in their written order."""
    path = Path(source).expanduser()
    if is_shard_folder(path):
        return ShardImages(path)
    splits = [split.name for split in sorted(path.glob("*")) if is_shard_folder(split)] if path.is_dir() else []
    if splits:
        raise DatasetError(f"source={source}: a folder prepare.py wrote; pass one of its splits, e.g. "
                           f"source={path / splits[0]}")
    if path.is_file() and path.suffix.lower() == ".txt":
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if not lines:
            raise DatasetError(f"source={source}: the list names no image (one path per line)")
        return [p if p.is_absolute() else path.parent / p for p in map(Path, lines)]
    if path.is_file():
        return [path]
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    if not found:
        raise DatasetError(f"source={source}: no such image, or no images ({', '.join(IMAGE_SUFFIXES)}) in that "
                           f"folder or pattern, or a .txt list of image paths")
    return sorted(found)


def as_rgb(image: ImageLike) -> Image.Image:
    """A path (decoded), a PIL image or an HxWx3 uint8 array -> an RGB PIL image, as the datasets read them
    (data.images: EXIF orientation applied, 16-bit images scaled to 8 bits, alpha dropped)."""
    if isinstance(image, (str, Path)):
        return load_rgb(Path(image))
    if isinstance(image, ShardImage):
        return image.load()
    if isinstance(image, Image.Image):
        return displayed_rgb(image)
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise DatasetError(f"an image array must be HxWx3 uint8 (RGB), got shape {list(array.shape)} {array.dtype}")
    return Image.fromarray(array, "RGB")


class Predictor:
    """A loaded model as a function of images: `predictor(images)` -> predict.py's records, one per image."""

    def __init__(self, loaded: LoadedModel, top_k: int = 5, threshold: float = 0.5):
        self.loaded, self.top_k, self.threshold = loaded, top_k, threshold
        self.model = loaded.model.cpu().eval()
        self.transform = self.model.inference_transform(loaded.config["data"])
        self.seconds = 0.0  # time spent in the model, for the ms-per-image figure

    def run(self, images: Sequence[ImageLike]) -> list[tuple[torch.Tensor, Any, dict[str, Any]]]:
        """(preprocessed image, model output, record) for each image of one batch."""
        tensors = [self.transform(as_rgb(image)) for image in images]
        began = time.perf_counter()
        with torch.inference_mode():
            outputs = self.model(self.model.collate(tensors))
        self.seconds += time.perf_counter() - began
        records = self.model.describe(outputs, self.top_k, self.threshold)
        return list(zip(tensors, outputs, records))

    def __call__(self, images: ImageLike | Iterable[ImageLike]) -> list[dict[str, Any]]:
        images = [images] if isinstance(images, (str, Path, Image.Image)) or (
            isinstance(images, np.ndarray) and images.ndim == 3) else list(images)
        return [record for _, _, record in self.run(images)]


def predict(ckpt: str | Path, source: str | Path, output_dir: str | Path | None = None, top_k: int = 5,
            threshold: float = 0.5, batch_size: int = 16, runtime: str | None = None, parts: int = 1,
            part: int | None = None) -> Path | None:
    """Predict every readable image of `source`; writes predictions.jsonl (and, where the task draws them,
    annotated images) into `output_dir`, reports unreadable files and skips them, prints ms per image. Returns the
    JSONL path.

    `parts`: the sorted image list cut into that many contiguous parts, each predicted into its own file
    (`parts/part-<i>-of-<n>.jsonl`, written under a temporary name and renamed when complete) unless that file
    exists, then merged in order into predictions.jsonl: a restarted run predicts only the missing parts. `part`:
    predict only that one (an array job: local processes or a SLURM array) and return None; a later call without
    it merges."""
    if parts < 1 or (part is not None and not 0 <= part < parts):
        raise DatasetError(f"part={part}, parts={parts}: parts must be >= 1 and part in 0..parts-1")
    out = Path(output_dir) if output_dir else Path("predictions") / time.strftime("%Y-%m-%d_%H-%M-%S")
    if parts > 1 and output_dir is None:
        raise DatasetError("parts > 1 needs output_dir=<a folder every part writes into>")
    paths = list_sources(source)
    predictor = None
    bounds = [round(i * len(paths) / parts) for i in range(parts + 1)]
    files = [out / "parts" / f"part-{i:05d}-of-{parts:05d}.jsonl" for i in range(parts)]
    for i in range(parts) if part is None else [part]:
        if parts > 1 and files[i].is_file():
            continue
        predictor = predictor or Predictor(load_model(ckpt, runtime), top_k, threshold)
        records = predict_paths(predictor, paths, bounds[i], bounds[i + 1], out, batch_size, threshold, source)
        if parts > 1:
            files[i].parent.mkdir(parents=True, exist_ok=True)
            tmp = files[i].with_name(f".{files[i].name}.{os.getpid()}.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
            os.replace(tmp, files[i])
            print(f"part {i + 1}/{parts}: {len(records)} images -> {files[i]}", flush=True)
        else:
            out.mkdir(parents=True, exist_ok=True)
            (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if part is not None or parts == 1:
        return None if part is not None else out / "predictions.jsonl"
    missing = [f.name for f in files if not f.is_file()]
    if missing:  # written by other jobs still running
        raise DatasetError(f"{out / 'parts'}: {len(missing)} part(s) not written yet (e.g. {missing[0]}): run the "
                           f"missing parts (part=<i>) or this command again once they are done")
    merged = out / "predictions.jsonl"
    tmp = merged.with_name(f".predictions.jsonl.{os.getpid()}.tmp")
    with open(tmp, "w") as target:
        for file in files:
            target.write(file.read_text())
    os.replace(tmp, merged)
    print(f"{parts} parts merged: {merged}", flush=True)
    return merged


def predict_paths(predictor: Predictor, paths: Sequence[Path], start: int, stop: int, out: Path, batch_size: int,
                  threshold: float, source: str | Path) -> list[dict[str, Any]]:
    """The records of paths[start:stop] (annotated pictures into `out`/annotated, numbered by the image's place in
    the whole list); unreadable files are reported and skipped."""
    skipped, records, seconds = [], [], predictor.seconds
    for first in range(start, stop, batch_size):
        batch = []
        for number, path in enumerate(paths[first:min(first + batch_size, stop)], first):
            try:
                batch.append((number, path, as_rgb(path)))
            except DatasetError as err:
                skipped.append(str(path))
                print(f"skipped: {err}", flush=True)
        if not batch:
            continue
        for (number, path, _), (tensor, output, record) in zip(batch, predictor.run([b[2] for b in batch])):
            records.append({"image": str(path), **record})
            picture = predictor.model.annotate(tensor, output, record, threshold)
            if picture is not None:
                (out / "annotated").mkdir(parents=True, exist_ok=True)
                write_png(picture, str(out / "annotated" / f"{number + 1:06d}_{path.stem}.png"))
    if not records and stop > start:
        raise DatasetError(f"source={source}: no readable image among {stop - start} file(s) (e.g. {skipped[0]}): "
                           f"pass an image, a folder of images, a glob pattern, a .txt list of image paths or a "
                           f"shard folder")
    ms = 1000 * (predictor.seconds - seconds) / max(len(records), 1)
    print(f"{len(records)} images predicted ({len(skipped)} unreadable, skipped), {ms:.2f} ms per image "
          f"(model, batches of {batch_size}, {predictor.loaded.format}); into {out}", flush=True)
    return records
