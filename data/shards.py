"""Sharded datasets (LitData): a split's images resized, re-encoded and written once into chunk files with their
labels, then streamed in training by any number of processes and workers without opening millions of small files.

Writing (`write_shards`, run by prepare.py): the split's samples (image path, label[, crop box]) in a seeded shuffled
order, cut into parts of `part_size` records. Each part is written by `litdata.optimize` into a temporary folder and
renamed when complete, so an interrupted conversion resumes at the first missing part, parts can be written by
independent jobs (`part`/`parts`: a SLURM array), and no part ever looks complete when it is not. When every part is
there, the parts are merged into `<out>/<split>/` and `<out>/<split>/manifest.json` is written last (atomically): a
split without a manifest is not finished. A record is {"id": its index in the split's sample list, "image": JPEG
bytes (shorter side at most `short_side`, never enlarged, EXIF orientation applied), "label": int or float32 array,
"name": the source file's path as listed (UTF-8 bytes)}.

Reading (`open_shards`): the manifest is checked against what the run expects (format version, the fingerprint of the
split's sample list, the record count) and the chunks against the index (present, of the size the index gives) before
anything is read, each problem one `DatasetError` naming the file. A classification batch leaves the loader as its
records' JPEG bytes (`ShardRecord`, `JpegBatch`); the training process decodes and shrinks it in threads
(`decode_batch`) into a `UInt8Batch` for the data module's batched augmentation, with the records' ids, from which its
random draws are derived (data.batch_augment.batch_generator). `ShardRecords` reads a split's records in
their written order by index, for passes over every record (prediction, a distilling task's teacher outputs).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
from litdata import StreamingDataLoader, StreamingDataset, merge_datasets, optimize
from PIL import Image

from .batch_augment import UInt8Batch
from .errors import DatasetError
from .images import load_rgb
from .resumable import random_state, restore_random_state

log = logging.getLogger(__name__)

SHARD_VERSION = 2
MANIFEST = "manifest.json"
PARTS = ".parts"


def plain(label: Any) -> Any:
    """A label (int, array, or a dict of them: a detection target) as JSON values."""
    if isinstance(label, dict):
        return {key: plain(value) for key, value in sorted(label.items())}
    return int(label) if isinstance(label, (int, np.integer)) else np.asarray(label).tolist()


def check_source(source: str, shards: str | None) -> tuple[str, str | None]:
    """A data module's `source` and `shards` settings, checked (data.source, data.shards)."""
    if source not in ("files", "shards"):
        raise ValueError(f"data.source must be files or shards, got {source!r}")
    if source == "shards" and not shards:
        raise ValueError("data.source=shards needs data.shards=<the folder prepare.py wrote (prepare.out)>")
    return source, shards


def samples_fingerprint(samples: Sequence[tuple]) -> str:
    """A fingerprint of a split's sample list (paths as given, labels, crop boxes), in order: cheap (no file is
    opened or stat'ed), so a run over millions of images can check its shards against the list it would read."""
    digest = hashlib.sha1()
    for sample in samples:
        digest.update(json.dumps([str(sample[0]), plain(sample[1]),
                                  list(sample[2]) if len(sample) > 2 and sample[2] else None], default=str).encode())
    return digest.hexdigest()


class EncodeRecord:
    """The per-record work of a conversion (picklable for LitData's workers): decode (`load(index)` when the data
    reads its images its own way, else data.images.load_rgb), crop to the box, shrink the shorter side to
    `short_side`, re-encode as JPEG. An image that cannot be read is written up in `errors` (one file per record:
    LitData's workers hang on an exception) and left out; the writer then stops, naming it."""

    def __init__(self, short_side: int, quality: int, errors: Path, load=None):
        self.short_side, self.quality, self.errors, self.load = short_side, quality, errors, load

    def __call__(self, item: tuple) -> dict[str, Any] | None:
        try:
            return self.encode(*item)
        except Exception as error:  # noqa: BLE001 - reported by the writer, naming the file
            self.errors.mkdir(parents=True, exist_ok=True)
            (self.errors / f"{item[0]}.txt").write_text(f"{item[1]}: {error}")
            return None

    def encode(self, index: int, path: str, label, box) -> dict[str, Any]:
        image = self.load(index) if self.load is not None else load_rgb(path)
        if box is not None:
            image = image.crop(tuple(box))
        scale = self.short_side / min(image.size)
        if scale < 1:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.BILINEAR, reducing_gap=None)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.quality)
        if isinstance(label, dict):  # a detection target: arrays as they are (boxes in the listed image's pixels)
            label = {key: np.asarray(value) for key, value in label.items()}
        else:
            label = int(label) if isinstance(label, (int, np.integer)) else np.asarray(label, dtype=np.float32)
        return {"id": int(index), "image": buffer.getvalue(), "label": label,
                # bytes: LitData would store a str naming an existing file as that file's decoded content
                "name": str(path).encode()}


def write_shards(samples: Sequence[tuple], out: str | Path, split: str, settings: dict[str, Any],
                 short_side: int = 320, quality: int = 90, part_size: int = 4096, num_workers: int = 1,
                 seed: int = 0, part: int | None = None, chunk_bytes: str = "64MB", load=None) -> Path | None:
    """Write `samples` ((path, label[, box]) in the data module's order) as the shards of `split` in `out`.
    `settings`: what else the manifest records (class names, the data config, ...). `part`: write only that part
    (an array job) and return None; else write the missing parts, merge them and return the split's folder.
    `load`: index in `samples` -> PIL image, for data that reads its images its own way (see EncodeRecord)."""
    folder = Path(out) / split
    fingerprint = samples_fingerprint(samples)
    manifest = folder / MANIFEST
    if manifest.is_file():
        done = json.loads(manifest.read_text())
        if done.get("fingerprint") == fingerprint and done.get("version") == SHARD_VERSION:
            log.info("%s: complete already (%d records)", folder, done["count"])
            return folder
        raise DatasetError(f"{manifest}: these shards were written from another sample list or version; write "
                           f"the new ones into another folder (prepare.out=...) or delete {folder}")
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)  # records in a seeded random order: neighbours in a chunk are unrelated
    items = [(i, str(samples[i][0]), samples[i][1], samples[i][2] if len(samples[i]) > 2 else None) for i in order]
    count = max(1, -(-len(items) // part_size))
    parts = Path(out) / PARTS / f"{split}-{fingerprint[:12]}"
    wanted = range(count) if part is None else [part]
    if part is not None and not 0 <= part < count:
        raise DatasetError(f"prepare.part={part}: {split} has {count} parts of {part_size} records (0..{count - 1})")
    for number in wanted:
        final = parts / f"part-{number:05d}"
        if final.is_dir():
            continue
        tmp = parts / f"part-{number:05d}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        chunk = items[number * part_size:(number + 1) * part_size]
        log.info("%s: writing part %d/%d (%d records)", split, number + 1, count, len(chunk))
        errors = parts / f"errors-{os.getpid()}"
        shutil.rmtree(errors, ignore_errors=True)
        optimize(fn=EncodeRecord(short_side, quality, errors, load), inputs=chunk, output_dir=str(tmp),
                         chunk_bytes=chunk_bytes, num_workers=min(num_workers, len(chunk)), reorder_files=False,
                         keep_data_ordered=True, verbose=False, start_method="fork")
        failed = sorted(errors.glob("*.txt")) if errors.is_dir() else []
        if failed:
            first = failed[0].read_text()
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(errors, ignore_errors=True)
            raise DatasetError(f"{first} ({len(failed)} image(s) of part {number} failed; the parts written "
                               f"are kept: run prepare.py again after the fix)")
        tmp.rename(final)
    if part is not None:
        return None
    written = [parts / f"part-{n:05d}" for n in range(count)]
    staging = folder.with_name(f".{split}.merging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    if count == 1:  # nothing to merge: the part is the split (its folder is removed below anyway)
        written[0].rename(staging)
    else:
        merge_datasets([str(p) for p in written], str(staging), max_workers=num_workers)
    if folder.exists():  # an earlier merge stopped before its manifest: not complete, replaced
        shutil.rmtree(folder)
    staging.rename(folder)
    text = json.dumps({"version": SHARD_VERSION, "split": split, "count": len(items), "fingerprint": fingerprint,
                       "short_side": short_side, "quality": quality, "seed": seed, **settings}, indent=1, default=str)
    (folder / f".{MANIFEST}.tmp").write_text(text)
    os.replace(folder / f".{MANIFEST}.tmp", folder / MANIFEST)  # last, atomically: the split is complete
    shutil.rmtree(parts)
    if not any(parts.parent.iterdir()):
        parts.parent.rmdir()
    log.info("%s: %d records in %s", split, len(items), folder)
    return folder


def check_shards(folder: Path, fingerprint: str | None = None) -> dict[str, Any]:
    """The manifest of the shards in `folder`, after checking it and the chunk files (see the module docstring)."""
    manifest_path, index_path = folder / MANIFEST, folder / "index.json"
    if not manifest_path.is_file():
        hint = " (a conversion that has not finished)" if (folder / "index.json").is_file() else ""
        raise DatasetError(f"{manifest_path}: no manifest{hint}: write the shards with python prepare.py ... "
                           f"prepare.out={folder.parent}")
    try:
        manifest = json.loads(manifest_path.read_text())
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as error:
        raise DatasetError(f"{index_path if manifest_path.is_file() else manifest_path}: cannot be read ({error}); "
                           f"write the shards again with prepare.py") from None
    if manifest.get("version") != SHARD_VERSION:
        raise DatasetError(f"{manifest_path}: shard format version {manifest.get('version')}, this suite reads "
                           f"{SHARD_VERSION}: write the shards again with prepare.py")
    if fingerprint is not None and manifest.get("fingerprint") != fingerprint:
        raise DatasetError(f"{manifest_path}: these shards hold another sample list than this run's "
                           f"{manifest.get('split')} split (other data, labels or settings): point data.shards at "
                           f"the shards of this data, or write them with prepare.py and the same data settings")
    records = 0
    for chunk in index.get("chunks", []):
        path = folder / chunk["filename"]
        if not path.is_file():
            raise DatasetError(f"{path}: chunk missing (listed in {index_path}): copy the whole shard folder again "
                               f"or write it again with prepare.py")
        if path.stat().st_size != chunk["chunk_bytes"]:
            raise DatasetError(f"{path}: {path.stat().st_size} bytes where {index_path} says "
                               f"{chunk['chunk_bytes']} (truncated or altered): copy it again or write the shards "
                               f"again with prepare.py")
        records += chunk["chunk_size"]
    if records != manifest.get("count"):
        raise DatasetError(f"{manifest_path}: says {manifest.get('count')} records but the chunks in {index_path} "
                           f"hold {records}: write the shards again with prepare.py")
    return manifest


class ShardRecord:
    """A classification record -> (its JPEG bytes, label, id): all the loader does per record. The training process
    decodes whole batches (`decode_batch`)."""

    def __call__(self, record: dict[str, Any], epoch: int = 0) -> tuple[bytearray, Any, int]:
        label = record["label"]
        return (bytearray(record["image"]), torch.as_tensor(label) if isinstance(label, np.ndarray) else int(label),
                int(record["id"]))


class JpegBatch(NamedTuple):
    """A training batch of shard records before decoding (the loader's output; `decode_batch` makes it a
    UInt8Batch): each record's JPEG bytes, the labels, the records' ids."""
    jpegs: list
    targets: Any
    ids: torch.Tensor


def shard_batch(items: list[tuple[bytearray, Any, int]]) -> JpegBatch:
    """collate_fn of `ShardRecord`s."""
    labels = [label for _, label, _ in items]
    labels = torch.stack(labels) if isinstance(labels[0], torch.Tensor) else torch.tensor(labels)
    return JpegBatch([jpeg for jpeg, _, _ in items], labels, torch.tensor([i for _, _, i in items]))


def decode_images(jpegs: list[bytearray], short_side: int) -> list[torch.Tensor]:
    """JPEG bytes -> uint8 [3, H, W] images (torchvision's libjpeg-turbo decoder, one call for the list), each
    shorter side shrunk to at most `short_side` (antialiased)."""
    from torchvision.io import decode_jpeg
    from torchvision.transforms.v2 import functional as F
    images = decode_jpeg([torch.frombuffer(jpeg, dtype=torch.uint8) for jpeg in jpegs])
    return [F.resize(image, [short_side], antialias=True) if min(image.shape[-2:]) > short_side else image
            for image in images]


_DECODERS: dict[int, ThreadPoolExecutor] = {}


def decode_batch(batch: JpegBatch, short_side: int, threads: int | None = None) -> UInt8Batch:
    """A JpegBatch -> the UInt8Batch the batched augmentation takes (padded to its largest image, data.decoded),
    decoded in `threads` threads of this process (default: torch's intra-op thread count; the decoder releases the
    GIL). Decoding here rather than in loader worker processes keeps it from competing with the training step for
    the cores (docs/data.md: the dogs default on 2 cores kept 0.90 of its preloaded step's speed this way, 0.85-0.87
    with 2 worker processes decoding)."""
    from .decoded import pad_images
    threads = max(1, min(threads or torch.get_num_threads(), len(batch.jpegs)))
    if threads == 1:
        images = decode_images(batch.jpegs, short_side)
    else:
        if threads not in _DECODERS:
            _DECODERS[threads] = ThreadPoolExecutor(threads, "decode")
        pool = _DECODERS[threads]
        parts = [batch.jpegs[i::threads] for i in range(threads)]  # interleaved: images of similar cost
        decoded = list(pool.map(decode_images, parts, [short_side] * threads))
        images = [decoded[i % threads][i // threads] for i in range(len(batch.jpegs))]
    padded, sizes = pad_images(images)
    return UInt8Batch(padded, sizes, batch.targets, batch.ids)


def open_shards(folder: str | Path, split: str, fingerprint: str, decode, seed: int):
    """The StreamingDataset of a split's shards (checked first), shuffled by `seed` and the epoch; `decode`:
    (record, epoch) -> sample, run in the loader's workers (the epoch is the one LitData orders the records by)."""
    path = Path(folder).expanduser().resolve() / split
    manifest = check_shards(path, fingerprint)
    dataset = DecodingDataset(str(path), shuffle=True, seed=seed, drop_last=True)
    dataset.decode, dataset.manifest = decode, manifest
    return dataset


class DecodingDataset(StreamingDataset):
    """A StreamingDataset whose records go through `decode(record, epoch)`."""
    decode = None

    def __getitem__(self, index):
        return self.decode(super().__getitem__(index), self.current_epoch)



class ShardLoader(StreamingDataLoader):
    """LitData's StreamingDataLoader whose position the data module saves and restores (`position`, `resume`).

    The order is LitData's: chunks and the records in them shuffled by the seed and the loader's epoch count, split
    across ranks and workers. `resume` (a `position()` from a checkpoint) continues that epoch after its last
    trained batch, or starts the next epoch when it had finished. Its own DataLoader generator keeps it off the
    global torch RNG (the model's random draws are the same with and without it)."""

    def __init__(self, dataset, *, batch_size: int, num_workers: int, collate_fn, resume: dict | None = None):
        super().__init__(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_fn,
                         persistent_workers=num_workers > 0, generator=torch.Generator(),
                         pin_memory=torch.cuda.is_available())
        self._resuming = False
        self._random = None  # the global random state to restore when the resumed iteration starts
        if resume is not None:
            self.resume(resume)

    def __iter__(self):
        if not self._resuming:  # LitData keeps resuming until an epoch is iterated to its end, which Lightning
            self.restore = False  # does not do (it stops at the epoch's length): only the first epoch resumes
        self._resuming = False
        if self._random is not None:  # where the uninterrupted run stood (data.resumable)
            restore_random_state(self._random)
            self._random = None
        yield from super().__iter__()

    def position(self, batches: int, batch_size: int | None = None, finished: bool = False) -> dict[str, Any]:
        """The state after `batches` trained batches of the current epoch (data.resumable.ResumableData)."""
        samples = batches * self.batch_size
        return {"epoch": self.current_epoch, "batches": batches, "random": random_state(), "litdata": {
            "dataset": self.dataset.state_dict(samples, self.num_workers, self.batch_size),
            "current_epoch": self.current_epoch, "num_samples_yielded": samples,
            "latest_worker_idx": (batches - 1) % max(self.num_workers, 1)}}

    def resume(self, position: dict[str, Any]) -> None:
        saved, mid_epoch = position["litdata"]["dataset"], 0 < position["batches"] < len(self)
        now = {"num_workers": self.num_workers or 1, "world_size": self.dataset.distributed_env.world_size}
        changed = [key for key in now if mid_epoch and saved[key] != now[key]]
        if changed:  # LitData splits the epoch's chunks across ranks and workers: another split, other samples
            what = {"num_workers": "data.num_workers", "world_size": "processes (nodes x devices)"}[changed[0]]
            raise DatasetError(f"{what}: {now[changed[0]]} now, but the checkpoint stopped mid-epoch with "
                               f"{saved[changed[0]]}, and the shards are split across them: resume with "
                               f"{saved[changed[0]]} (another number is fine from a checkpoint at an epoch's end)")
        self._random = position["random"]
        if mid_epoch:
            super().load_state_dict(position["litdata"])
            self._resuming = True
        else:  # the epoch had finished (or not started): the next iteration is the next epoch
            self.current_epoch = position["epoch"] if position["batches"] else position["epoch"] - 1

    def load_state_dict(self, obj: dict[str, Any]) -> None:
        """Lightning's restore of loader states is ignored: the data module restores this loader (see
        ClassificationDataModule.load_state_dict); a second restore would move it again."""


class ShardRecords(torch.utils.data.Dataset):
    """The records of a split's shard folder (checked first) by index, in their written order, each as
    (`name`, RGB PIL image, record): for passes over all of them (predict.py, teacher outputs). Map-style, so a
    plain DataLoader's workers each read the indices they are given."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser().resolve()
        self.manifest = check_shards(self.folder)
        self._dataset = None  # opened on first read (in each worker)

    def __len__(self) -> int:
        return self.manifest["count"]

    def __getitem__(self, index: int) -> tuple[str, Image.Image, dict[str, Any]]:
        if self._dataset is None:
            self._dataset = StreamingDataset(str(self.folder), shuffle=False)
        record = self._dataset[index]
        image = Image.open(io.BytesIO(record["image"]))
        image.load()
        return bytes(record["name"]).decode(), image.convert("RGB"), record

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None}


def is_shard_folder(path: str | Path) -> bool:
    """Whether `path` is a split's shard folder (what prepare.py writes: <out>/<split>/ with manifest.json)."""
    return (Path(path).expanduser() / MANIFEST).is_file()
