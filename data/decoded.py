"""Decode once: a split's images decoded and resized a single time into a uint8 store that every epoch reads.

Why: on a small machine the DataLoader workers that decode JPEGs and augment PIL images every epoch compete with
the training step for the same cores, for images that never change. Small datasets (the embedded defaults,
Stanford Dogs, a folder of photos) are therefore decoded once, resized by a deterministic `prepare` function (the
part of the pipeline that has no randomness), and written as raw uint8 HWC pixels into one file in the suite's
cache (`<cache>/decoded/`), which is memory-mapped: the page cache holds it once for every process (DDP ranks,
workers) and the next run with the same files and settings reuses it. Random augmentation then runs on batched
tensors (data.batch_augment).

Keys and safety:
- The store's folder is named after the dataset, the `prepare` settings and a fingerprint of the image files
  (path, size, mtime, in order): a changed file, list or setting gives another store, built anew (the old one stays
  until `<cache>/decoded/` is deleted), and runs that share files and settings share the store.
- It is built into a temporary folder and renamed when complete (data.cache.ensure_generated), under a file
  lock, so an interrupted build never leaves a store that looks complete, and DDP ranks build it once.
- Images are decoded by data.images.load_rgb (EXIF orientation applied, 16-bit scaled). The data modules leave
  unreadable files out before the store's list is made (data.bad_images=skip: the list, its labels and the
  fingerprint are those of the readable files), so a store never holds a gap; a file that fails only when decoded
  stops the build with a DatasetError naming it.
- `plan_cache` decides, from an estimate of the decoded size, whether a dataset fits `data.decode_cache_gb`;
  one that does not streams from disk with workers (a log line says so), as large datasets (COCO, MP-16) do.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from .cache import default_cache_dir, ensure_generated, fingerprint
from .images import displayed_size, load_rgb

__all__ = ["DecodedImages", "decoded_images", "estimate_bytes", "fingerprint", "load_rgb", "plan_cache",
           "sampled_sizes", "whole_batch"]  # load_rgb and fingerprint live in data.images and data.cache

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: images read by data.images (EXIF orientation, 16-bit scaling): older stores are stale
PIXELS, INDEX = "pixels.u8", "index.npy"
HEADER_SAMPLE = 256  # image headers read to estimate a split's decoded size when the sizes are not listed


class _Prepare(Dataset):
    """What the build's workers do: decode one file and apply the deterministic `prepare`."""

    def __init__(self, count: int, prepare: Callable[[int], torch.Tensor]):
        self.count, self.prepare = count, prepare

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:
        image = self.prepare(index)  # load_rgb inside: a DatasetError naming a bad file
        if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
            raise TypeError(f"prepare must return a uint8 [3, H, W] tensor, got {image.dtype} {list(image.shape)}")
        return image.permute(1, 2, 0).numpy()


def _build(folder: Path, count: int, prepare, num_workers: int) -> None:
    loader = DataLoader(_Prepare(count, prepare), batch_size=None, num_workers=num_workers,
                        generator=torch.Generator())  # its own: building must not move the seeded global RNG
    index = np.zeros((count, 3), dtype=np.int64)  # byte offset, height, width
    offset = 0
    with open(folder / PIXELS, "wb") as out:
        for i, pixels in enumerate(loader):
            pixels = np.ascontiguousarray(pixels)
            out.write(pixels.tobytes())
            index[i] = offset, pixels.shape[0], pixels.shape[1]
            offset += pixels.size
    np.save(folder / INDEX, index)


class DecodedImages:
    """A built store: `len()`, `image(i)` (a uint8 HWC view of the memory map, copy-on-write), `sizes` ([N, 2]
    heights and widths). Pickled (for spawned DataLoader workers) as its folder: a worker maps the file itself."""

    def __init__(self, folder: Path):
        self._open(folder)

    def __getstate__(self) -> dict:
        return {"folder": self.folder}

    def __setstate__(self, state: dict) -> None:
        self._open(state["folder"])

    def _open(self, folder: Path) -> None:
        self.folder = folder
        self.index = np.load(folder / INDEX)
        size = int(self.index[-1, 0] + self.index[-1, 1] * self.index[-1, 2] * 3) if len(self.index) else 0
        self.pixels = (np.memmap(folder / PIXELS, dtype=np.uint8, mode="c", shape=(size,)) if size
                       else np.zeros(0, np.uint8))
        self.sizes = self.index[:, 1:].copy()
        same = len(self.index) > 0 and (self.sizes == self.sizes[0]).all()
        self.uniform = self.pixels.reshape(len(self.index), *self.sizes[0], 3) if same else None

    def __len__(self) -> int:
        return len(self.index)

    def image(self, i: int) -> np.ndarray:
        offset, height, width = (int(v) for v in self.index[i])
        return self.pixels[offset: offset + height * width * 3].reshape(height, width, 3)

    def tensor(self, i: int) -> torch.Tensor:
        """Image `i` as a uint8 [3, H, W] tensor (a copy)."""
        return torch.from_numpy(np.array(self.image(i))).permute(2, 0, 1)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 [B, 3, H, W] (contiguous) with the batch's largest H and W (smaller images top-left, their last row
        and column repeated into the padding, so bilinear sampling at their border sees the border) and their
        [B, 2] sizes."""
        indices = list(indices)
        sizes = torch.from_numpy(self.sizes[indices])
        if self.uniform is not None:  # every image the same size: one gather
            return torch.from_numpy(self.uniform[indices]).permute(0, 3, 1, 2).contiguous(), sizes
        return pad_images([torch.from_numpy(self.image(i)).permute(2, 0, 1) for i in indices])


def pad_images(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 [3, H, W] images (any strides) -> one contiguous [B, 3, H, W] batch of the largest H and W (each image
    top-left, its last row and column repeated into the padding, so bilinear sampling at its border sees the border)
    and the [B, 2] true sizes. Each image is copied once; in a DataLoader worker the batch is made in shared memory
    (as torch's default_collate makes its batches), so handing it to the main process copies nothing more."""
    sizes = torch.tensor([list(image.shape[-2:]) for image in images], dtype=torch.int64).reshape(-1, 2)
    height, width = (int(v) for v in sizes.max(0).values) if len(images) else (0, 0)
    out = batch_tensor((len(images), 3, height, width))
    if len(images) and bool((sizes == sizes[0]).all()):  # one size: one copy in C++
        return torch.stack(list(images), out=out), sizes
    for b, image in enumerate(images):
        h, w = image.shape[-2:]
        out[b, :, :h, :w] = image
        if w < width:
            out[b, :, :h, w:] = out[b, :, :h, w - 1: w]
        if h < height:
            out[b, :, h:] = out[b, :, h - 1: h]
    return out, sizes


def batch_tensor(shape: Sequence[int], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """An uninitialised contiguous tensor for a batch: in shared memory when made in a DataLoader worker."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    return torch.empty(0, dtype=dtype).set_(torch.UntypedStorage._new_shared(nbytes), 0, tuple(shape))


def decoded_images(paths: Sequence[Path], name: str, settings: dict, prepare: Callable[[int], torch.Tensor],
                   num_workers: int = 0, cache_dir: str | Path | None = None) -> DecodedImages:
    """The store of the images at `paths`, image i being `prepare(i)` (a uint8 [3, H, W] tensor: `paths[i]`
    decoded with `load_rgb`, then the deterministic steps), built unless a complete one exists.

    `name` names the dataset (e.g. its folder); `settings` (JSON-serialisable) must describe everything `prepare`
    does beyond decoding: both, and the files' fingerprint, make the store's key."""
    paths = [Path(p).resolve() for p in paths]
    params = {"version": FORMAT_VERSION, "name": name, "settings": settings, "count": len(paths),
              "files": fingerprint(paths)}
    key = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = (Path(cache_dir) if cache_dir is not None else default_cache_dir()).expanduser() / "decoded" / (
        f"{Path(name).name[:60]}-{key}")
    params = json.loads(json.dumps(params, default=str))  # the marker holds exactly what a re-read gives

    def build(tmp: Path) -> None:
        log.info("decoding %d images once into %s (%s)", len(paths), folder, settings)
        _build(tmp, len(paths), prepare, num_workers)

    return DecodedImages(ensure_generated(folder, params, build))


def whole_batch(batch):
    """collate_fn of datasets whose `__getitems__` (what the DataLoader calls with a batch's indices) already
    returns the batch."""
    return batch


def sampled_sizes(paths: Sequence[Path]) -> list[tuple[int, int]]:
    """Displayed (width, height) (EXIF orientation applied) of a seeded sample of up to HEADER_SAMPLE of the files
    (PIL reads only the header): for estimating a split whose sizes are not listed anywhere."""
    sizes = []
    for path in random.Random(0).sample(list(paths), min(len(paths), HEADER_SAMPLE)):
        try:
            sizes.append(displayed_size(path))
        except (OSError, SyntaxError, ValueError):
            continue  # a bad file is named when the store is built; here it only leaves the sample
    return sizes


def estimate_bytes(sizes: Sequence[tuple[int, int]], prepared_size: Callable[[int, int], tuple[int, int]],
                   count: int | None = None) -> int:
    """Decoded bytes of `count` images (default: len(sizes)) whose original (width, height) sizes are `sizes` (all
    of them, or a sample), as `prepared_size` stores them."""
    if not sizes:
        return 0
    mean = np.mean([np.prod(prepared_size(w, h)) for w, h in sizes])
    return int(mean * 3 * (len(sizes) if count is None else count))


def plan_cache(estimated_bytes: int, budget_gb: float, what: str) -> bool:
    """True when `estimated_bytes` fit `data.decode_cache_gb`; else log why the data will stream from disk."""
    if budget_gb <= 0:
        log.info("%s: streaming from disk every epoch (data.decode_cache_gb=0)", what)
        return False
    if estimated_bytes > budget_gb * 1e9:
        log.warning("%s: decoded images would take about %.1f GB, more than data.decode_cache_gb=%g: streaming "
                    "from disk with data.num_workers workers instead (raise data.decode_cache_gb to cache them)",
                    what, estimated_bytes / 1e9, budget_gb)
        return False
    log.info("%s: decoding once into a uint8 cache of about %.2f GB (data.decode_cache_gb=%g)", what,
             estimated_bytes / 1e9, budget_gb)
    return True
