"""Predict on new images with a trained model (checkpoint or exported file): one JSON record per image, through the
task's own hooks (preprocessing, batching, description, annotation)."""
from __future__ import annotations

import glob
import json
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from PIL import Image
from torchvision.io import write_png

from data.attributes import IMAGE_SUFFIXES
from data.images import displayed_rgb, load_rgb
from data.errors import DatasetError

from .load import LoadedModel, load_model

ImageLike = str | Path | Image.Image | np.ndarray


def list_sources(source: str | Path) -> list[Path]:
    """An image file, a folder (recursively) or a glob pattern -> image paths, sorted."""
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    if not found:
        raise DatasetError(f"source={source}: no such image, or no images ({', '.join(IMAGE_SUFFIXES)}) in that "
                           f"folder or pattern")
    return sorted(found)


def as_rgb(image: ImageLike) -> Image.Image:
    """A path (decoded), a PIL image or an HxWx3 uint8 array -> an RGB PIL image, as the datasets read them
    (data.images: EXIF orientation applied, 16-bit images scaled to 8 bits, alpha dropped)."""
    if isinstance(image, (str, Path)):
        return load_rgb(Path(image))
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
            threshold: float = 0.5, batch_size: int = 16, runtime: str | None = None) -> Path:
    """Predict every readable image of `source`; writes predictions.jsonl (and, where the task draws them,
    annotated images) into `output_dir`, reports unreadable files and skips them, prints ms per image. Returns the
    JSONL path."""
    predictor = Predictor(load_model(ckpt, runtime), top_k, threshold)
    out = Path(output_dir) if output_dir else Path("predictions") / time.strftime("%Y-%m-%d_%H-%M-%S")
    paths, skipped, records = list_sources(source), [], []
    for start in range(0, len(paths), batch_size):
        batch = []
        for path in paths[start:start + batch_size]:
            try:
                batch.append((path, as_rgb(path)))
            except DatasetError as err:
                skipped.append(str(path))
                print(f"skipped: {err}", flush=True)
        if not batch:
            continue
        for (path, _), (tensor, output, record) in zip(batch, predictor.run([image for _, image in batch])):
            records.append({"image": str(path), **record})
            picture = predictor.model.annotate(tensor, output, record, threshold)
            if picture is not None:
                (out / "annotated").mkdir(parents=True, exist_ok=True)
                write_png(picture, str(out / "annotated" / f"{len(records):06d}_{path.stem}.png"))
    if not records:
        raise DatasetError(f"source={source}: no readable image among its {len(paths)} file(s) (e.g. {skipped[0]}): "
                           f"pass an image, a folder of images or a glob pattern")
    out.mkdir(parents=True, exist_ok=True)
    predictions = out / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in records))
    ms = 1000 * predictor.seconds / max(len(records), 1)
    print(f"{len(records)} images predicted ({len(skipped)} unreadable, skipped), {ms:.2f} ms per image "
          f"(model, batches of {batch_size}, {predictor.loaded.format}); predictions: {predictions}", flush=True)
    return predictions
