"""Data at scale: LitData shards against loose image files, on a generated image-folder dataset.

    python benchmarks/data_scale.py                        # 50,000 images (and a 5,000-image subset), 2 workers
    python benchmarks/data_scale.py --images 2000 --small 500 --max-batches 20     # a quick look

1. Generates `--images` JPEGs (shorter side 240-320 px, so the shards' 320-px re-encoding resizes none and both
   sources decode the same pixels) in an image-folder tree of 100 classes, and a folder of links to the first
   `--small` of them. Not timed.
2. Prepare: writes both training splits as shards, as `python prepare.py data=image_folder ...` does (the data
   module's split and `write_shards`, `--workers` encoding processes): images per second, the data module's file
   listing and screening included.
3. Reads, for 1 and 2 processes (gloo ranks, as DDP splits them): the shards through the training loader
   (`ShardLoader`: LitData's order, split across ranks and workers) and the loose files through a DataLoader with a
   DistributedSampler, each worker doing the same work per image (read the bytes, decode the JPEG, shrink to 320):
   images per second per rank and in all, time from creating the loader to its first batch, and the memory of each
   loader worker at its first batch and at the end (its private dirty memory, Linux /proc: not what it shares with
   its parent, nor the page cache of the files it read), for the 5k and the 50k shards.
Each rank uses one intra-op thread; the loose files are in the page cache after the generation (as the chunk files
are after prepare), so this compares the formats' read paths, not a cold disk.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from data.image_folder import ImageFolderDataModule
from data.shards import ShardLoader, ShardRecord, check_shards, decode_batch, open_shards, shard_batch

CLASSES = 100


def generate(root: Path, count: int) -> None:
    """`count` JPEGs: smooth colour fields with a few blocks, sizes 240-320 x 240-420 px, seeded per image."""
    for index in range(count):
        rng = np.random.default_rng(index)
        height, width = int(rng.integers(240, 321)), int(rng.integers(240, 421))
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((width, height), Image.BILINEAR)
        folder = root / f"class_{index % CLASSES:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{index:07d}.jpg", quality=90)


def link_subset(root: Path, subset: Path, count: int) -> None:
    for path in sorted(root.rglob("*.jpg"))[:count]:
        target = subset / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)


def datamodule(root: Path) -> ImageFolderDataModule:
    return ImageFolderDataModule(root=str(root), val_fraction=0.01, test_fraction=0.01, decode_cache_gb=0)


def prepare(root: Path, out: Path, workers: int) -> dict:
    began = time.perf_counter()
    dm = datamodule(root)
    folder = dm.write_shards(out, "train", num_workers=workers)
    seconds = time.perf_counter() - began
    count = check_shards(folder)["count"]
    return {"records": count, "seconds": seconds, "images_per_s": count / seconds,
            "bytes": sum(f.stat().st_size for f in folder.iterdir())}


class FileRecord(Dataset):
    """Loose files read as the shards' records are (data.shards.ShardRecord): the JPEG bytes, a label, the id."""

    def __init__(self, paths: list[str]):
        self.paths, self.record = paths, ShardRecord()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        return self.record({"image": Path(self.paths[index]).read_bytes(), "label": 0, "id": index})


def decoded_batch(items: list) -> object:
    """collate_fn: the records decoded and shrunk to 320 px in the worker (data.shards.decode_batch, one thread)."""
    return decode_batch(shard_batch(items), 320, threads=1)


def worker_memory_mb(loader) -> list[float]:
    """The private dirty memory of each live worker process of `loader` (MB, /proc/<pid>/smaps_rollup): the pages
    the worker itself wrote (its heap: indices, buffers, decoded images), not the pages it shares with its parent
    since the fork nor the chunk or image files it mapped or read (the kernel's reclaimable page cache)."""
    iterator = getattr(loader, "_iterator", None)
    sizes = []
    for worker in getattr(iterator, "_workers", []) or []:
        try:
            text = Path(f"/proc/{worker.pid}/smaps_rollup").read_text()
        except OSError:
            continue
        sizes += [int(line.split()[1]) / 1024 for line in text.splitlines() if line.startswith("Private_Dirty:")]
    return sizes


def read_rank(rank: int, world: int, port: int, spec: dict, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        began = time.perf_counter()
        if spec["source"] == "shards":
            manifest = check_shards(Path(spec["path"]) / "train")
            dataset = open_shards(spec["path"], "train", manifest["fingerprint"], ShardRecord(), seed=0)
            loader = ShardLoader(dataset, batch_size=spec["batch"], num_workers=spec["workers"],
                                 collate_fn=decoded_batch)
        else:
            dataset = FileRecord(spec["paths"])
            sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
            loader = DataLoader(dataset, batch_size=spec["batch"], sampler=sampler, num_workers=spec["workers"],
                                collate_fn=decoded_batch, persistent_workers=True, drop_last=True)
        images, first, memory = 0, None, []
        for number, batch in enumerate(loader):
            if first is None:
                first = time.perf_counter()
                start_images = len(batch.images)
                at_first = worker_memory_mb(loader)
            images += len(batch.images)
            if number + 1 == spec["max_batches"]:
                memory = worker_memory_mb(loader)
                break
        else:
            memory = worker_memory_mb(loader)
        end = time.perf_counter()
        Path(out).write_text(json.dumps({"first_batch_s": first - began, "images": images,
                                         "images_per_s": (images - start_images) / (end - first),
                                         "worker_memory_mb": list(zip(at_first, memory))}))
    finally:
        if world > 1:
            dist.destroy_process_group()


def read(spec: dict, world: int, tmp: Path) -> dict:
    outs = [str(tmp / f"rank{r}.json") for r in range(world)]
    port = 29400 + os.getpid() % 500
    procs = [mp.get_context("spawn").Process(target=read_rank, args=(r, world, port, spec, outs[r]))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit(f"a reading process failed ({spec['source']}, {world} process(es))")
    ranks = [json.loads(Path(o).read_text()) for o in outs]
    return {"per_rank_images_per_s": statistics.mean(r["images_per_s"] for r in ranks),
            "total_images_per_s": sum(r["images_per_s"] for r in ranks),
            "first_batch_s": max(r["first_batch_s"] for r in ranks),
            "worker_memory_mb": [m for r in ranks for m in r["worker_memory_mb"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=5_000, help="the subset whose worker memory is compared")
    parser.add_argument("--workers", type=int, default=2, help="loader workers per process, and prepare's")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-batches", type=int, default=0, help="stop each read after this many (0: an epoch)")
    parser.add_argument("--folder", default=None, help="work folder (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(args.folder or tempfile.mkdtemp(prefix="data_scale_"))
    try:
        files, small = work / "files", work / "files_small"
        began = time.perf_counter()
        if not files.is_dir():
            generate(files, args.images)
            link_subset(files, small, args.small)
        for name in ("small", "full"):  # a kept folder: prepared again, timed
            shutil.rmtree(work / f"shards_{name}", ignore_errors=True)
        print(f"{args.images} images generated in {time.perf_counter() - began:.0f} s", flush=True)
        report = {"images": args.images, "small": args.small, "workers": args.workers, "batch": args.batch,
                  "cpu": cpu_name(), "prepare": {}, "read": {}}
        for name, root in (("small", small), ("full", files)):
            report["prepare"][name] = prepare(root, work / f"shards_{name}", args.workers)
            print(f"prepare {name}: {report['prepare'][name]}", flush=True)
        paths = train_paths(files)
        for world in (1, 2):
            for source, path in (("files", None), ("shards", work / "shards_full"), ("shards_small",
                                                                                     work / "shards_small")):
                if source == "shards_small" and world == 2:
                    continue
                spec = {"source": "shards" if source.startswith("shards") else "files", "path": str(path),
                        "paths": paths, "batch": args.batch, "workers": args.workers,
                        "max_batches": args.max_batches}
                result = read(spec, world, work)
                report["read"][f"{source}@{world}"] = result
                print(f"read {source}, {world} process(es): {result}", flush=True)
        print(json.dumps(report, indent=1))
        print(table(report))
    finally:
        if not args.keep and not args.folder:
            shutil.rmtree(work, ignore_errors=True)


def train_paths(root: Path) -> list[str]:
    """The training split's files, as the data module splits them (what the shards hold)."""
    dm = datamodule(root)
    dm.setup()
    return [str(s[0]) for s in dm.split_samples["train"]]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    return "unknown"


def table(report: dict) -> str:
    prep = report["prepare"]["full"]
    lines = [f"prepare: {prep['records']} records in {prep['seconds']:.0f} s = {prep['images_per_s']:.0f} images/s "
             f"({report['workers']} workers), {prep['bytes'] / 2**20:.0f} MB of chunks",
             "| source | processes | images/s per process | images/s in all | first batch (s) | "
             "each worker's memory, first batch -> end (MB) |",
             "|---|---|---|---|---|---|"]
    for key, row in report["read"].items():
        source, world = key.split("@")
        label = {"files": f"loose files ({report['images']})", "shards": f"shards ({report['images']})",
                 "shards_small": f"shards ({report['small']})"}[source]
        memory = ", ".join(f"{a:.0f} -> {b:.0f}" for a, b in row["worker_memory_mb"])
        lines.append(f"| {label} | {world} | {row['per_rank_images_per_s']:.0f} | {row['total_images_per_s']:.0f} | "
                     f"{row['first_batch_s']:.2f} | {memory} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
