"""COCO detection data: the real COCO 2017 layout, any COCO-format export of a labelling tool, or (root=None) the
embedded generated default written in the same layout (data/generate/coco_shapes.py).

Layout (paths relative to `root`; absolute paths are taken as they are):
    annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/*.jpg, val2017/*.jpg

What the reader does with the annotations, and why:
- Category ids (COCO's are 1..90 with gaps; an export's can be anything) map to contiguous labels 1..K in ascending
  id order (0 is the detectors' background); `to_coco_category` maps predicted labels back for evaluation. The
  train and val files must list the same categories.
- Boxes are clipped to their image. A box that is then thinner than `min_box_size` px in width or height (empty,
  wholly outside the image, a zero-size click) is dropped, with a warning giving the count and the file: it can
  neither be learnt nor matched. The same cleaned annotations are what `coco_gt` hands the evaluator, so training
  targets and evaluation ground truth never disagree.
- Crowd regions (iscrowd=1) are not training targets (as torchvision's reference); they stay in the ground truth,
  where COCOeval ignores detections that fall on them, as on the official benchmark.
- Images without objects are kept (they teach what is not an object); their boxes tensor has shape [0, 4].
- Placeholder categories: a category that no annotation of the file uses and whose name is the `supercategory` of
  another category (Roboflow's exports list the dataset itself as category 0, supercategory "none", parent of the
  real ones) is not a class; a log line names it. An unused category that is no other's parent stays a class.
- Segmentation-only annotations (no `bbox`, or an empty one, and a polygon or RLE `segmentation`) get the box of
  their mask (pycocotools `frPyObjects`, `toBbox`), and its area when `area` is absent.
- Images are read by data.images.load_rgb: EXIF orientation applied. The listed width and height must be the
  displayed size (what labelling tools record); a listed size that is the stored size of an image its EXIF turns
  (a tool that ignored the tag) gets the stored pixels, as its boxes were drawn on them.
- Unreadable images (empty, truncated, not an image): left out with their annotations, from training and from the
  ground truth alike (`bad_images=skip`, listed in `skipped_images`), or an error (`bad_images=error`).
- Only the files a stage uses are read: testing (eval.py on another export) needs the val annotations and images,
  not the train ones.
- Errors name the file and the entry: malformed json (with line and column), an annotation whose image_id or
  category_id is not listed, a missing key, duplicate ids, a missing or unreadable image.

Batches: (images, targets), lists of a float32 [3, H, W] tensor in [0, 1] and a dict {"boxes" float32 [N, 4] XYXY
pixels, "labels" int64 [N], "image_id" int, "orig_size" (h, w)} per image. Evaluation images are neither resized nor
normalised: the torchvision detectors do both inside and report boxes in the pixels of the image they were given.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from torch.utils.data import DataLoader, Dataset

from torchvision.transforms import v2

from .batch_augment import UInt8Batch, batch_generator, counter_seed, flip_detection_batch
from .decoded import DecodedImages, decoded_images, estimate_bytes, plan_cache, whole_batch
from .detection_transforms import AUGMENTS, detection_transforms, sanitize_target, to_tv_target
from .errors import DatasetError
from .images import check_bad_images, load_rgb, unreadable_images
from .resumable import EpochSampler, ResumableData
from .shards import ShardLoader, check_shards, check_source, open_shards, samples_fingerprint, write_shards

log = logging.getLogger(__name__)

ROOT_HINT = ("pass data.root=<folder holding annotations/ and the image folders> (the COCO 2017 layout; "
             "data.train_images, data.val_images, data.train_annotations, data.val_annotations name them), "
             "or data.root=null for the embedded default")


# ------------------------------------------------------------------------------------------------ annotations
def read_json(path: Path) -> Any:
    """The parsed file; a missing file or malformed json names the file (and line/column)."""
    if not path.is_file():
        raise DatasetError(f"COCO annotation file not found: {path}; {ROOT_HINT}")
    try:
        return json.loads(path.read_bytes())
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: malformed JSON at line {err.lineno}, column {err.colno} (char {err.pos}): "
                           f"{err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read {path}: {err}") from None


def _require(entry: Any, keys: Sequence[str], path: Path, what: str) -> None:
    if not isinstance(entry, dict):
        raise DatasetError(f"{path}: {what} is not a JSON object: {str(entry)[:80]}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise DatasetError(f"{path}: {what} has no {missing} (COCO format needs {list(keys)})")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def box_from_segmentation(segmentation: Any, image: dict, path: Path, name: str) -> tuple[list[float], float] | None:
    """[x, y, width, height] and area of a polygon or RLE mask (None: no polygon with 3 or more points)."""
    height, width = int(image["height"]), int(image["width"])
    try:
        if isinstance(segmentation, list):
            polygons = [p for p in segmentation if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
            if not polygons:
                return None
            rle = mask_utils.merge(mask_utils.frPyObjects([[float(v) for v in p] for p in polygons], height, width))
        elif isinstance(segmentation, dict) and {"counts", "size"} <= set(segmentation):
            rle = (mask_utils.frPyObjects(segmentation, height, width) if isinstance(segmentation["counts"], list)
                   else dict(segmentation))
        else:
            raise TypeError("expected a list of polygons or an RLE {counts, size}")
        return [float(v) for v in mask_utils.toBbox(rle)], float(mask_utils.area(rle))
    except Exception as err:  # pycocotools raises several types for malformed input
        raise DatasetError(f"{path}: {name} has no bbox and a segmentation pycocotools cannot read ({err}); give it "
                           f"a bbox [x, y, width, height] or a polygon / RLE segmentation") from None


def placeholder_categories(data: dict) -> list[dict]:
    """Categories that are not classes (module docstring): used by no annotation, parent of another category."""
    used = {ann.get("category_id") for ann in data["annotations"] if isinstance(ann, dict)}
    return [c for c in data["categories"] if c["id"] not in used
            and any(other is not c and other.get("supercategory") == c["name"] for other in data["categories"])]


def clean_annotations(data: Any, path: Path, min_box_size: float) -> dict:
    """Check a parsed COCO detection json and return it with boxes clipped to their images and degenerate ones
    dropped, placeholder categories removed and boxes of segmentation-only annotations filled in (see the module
    docstring); `area` and `iscrowd` default to the box (or mask) area and 0 when absent."""
    _require(data, ("images", "annotations", "categories"), path, "the top level")
    images: dict[int, dict] = {}
    for i, image in enumerate(data["images"]):
        _require(image, ("id", "file_name", "width", "height"), path, f"images[{i}]")
        if image["id"] in images:
            raise DatasetError(f"{path}: image id {image['id']} is listed twice in 'images'")
        if not (_number(image["width"]) and _number(image["height"]) and image["width"] > 0 and image["height"] > 0):
            raise DatasetError(f"{path}: image id {image['id']} has no valid width/height "
                               f"({image['width']!r}, {image['height']!r})")
        images[image["id"]] = image
    categories: set[int] = set()
    for i, category in enumerate(data["categories"]):
        _require(category, ("id", "name"), path, f"categories[{i}]")
        if category["id"] in categories:
            raise DatasetError(f"{path}: category id {category['id']} is listed twice in 'categories'")
        categories.add(category["id"])
    if not categories:
        raise DatasetError(f"{path}: 'categories' is empty")

    placeholders = placeholder_categories(data)
    if placeholders:
        log.info("%s: %s not a class: no annotation uses it and it is the supercategory of other categories "
                 "(a placeholder)", path, ", ".join(f"category {c['name']!r} (id {c['id']})" for c in placeholders))
        data = {**data, "categories": [c for c in data["categories"] if all(c is not p for p in placeholders)]}
        categories -= {c["id"] for c in placeholders}

    kept, seen, clipped, dropped, from_masks = [], set(), 0, [], 0
    for i, ann in enumerate(data["annotations"]):
        name = f"annotation id {ann['id']}" if isinstance(ann, dict) and "id" in ann else f"annotations[{i}]"
        _require(ann, ("id", "image_id", "category_id"), path, name)
        if ann["id"] in seen:
            raise DatasetError(f"{path}: {name} is listed twice in 'annotations'")
        seen.add(ann["id"])
        if ann["image_id"] not in images:
            raise DatasetError(f"{path}: {name} refers to image_id {ann['image_id']!r}, which is not in 'images'")
        if ann["category_id"] not in categories:
            raise DatasetError(f"{path}: {name} has category_id {ann['category_id']!r}, which is not in "
                               f"'categories' (ids {sorted(categories)})")
        image = images[ann["image_id"]]
        box, mask_area = ann.get("bbox"), None
        if box is None or box == []:
            if not ann.get("segmentation"):
                raise DatasetError(f"{path}: {name} has no bbox and no segmentation; give it a bbox [x, y, width, "
                                   f"height] or a polygon / RLE segmentation")
            from_mask = box_from_segmentation(ann["segmentation"], image, path, name)
            box, mask_area = from_mask if from_mask else ([0.0, 0.0, 0.0, 0.0], 0.0)  # empty: dropped below
            ann = {**ann, "bbox": box}
            from_masks += 1
        if not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box)):
            raise DatasetError(f"{path}: {name} has bbox {box!r}; expected [x, y, width, height] numbers")
        x0, y0 = max(box[0], 0), max(box[1], 0)
        x1, y1 = min(box[0] + box[2], image["width"]), min(box[1] + box[3], image["height"])
        if x1 - x0 < min_box_size or y1 - y0 < min_box_size:
            dropped.append(ann["id"])
            continue
        ann = dict(ann)
        if [x0, y0, x1 - x0, y1 - y0] != list(box):
            clipped += 1
            ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
        ann.setdefault("area", (x1 - x0) * (y1 - y0) if mask_area is None else mask_area)
        ann.setdefault("iscrowd", 0)
        kept.append(ann)
    if from_masks:
        log.info("%s: %d annotation(s) without a bbox got the box of their segmentation mask", path, from_masks)
    if clipped:
        log.info("%s: %d box(es) reaching outside their image were clipped to it", path, clipped)
    if dropped:
        log.warning("%s: dropped %d annotation(s) whose box, clipped to its image, is narrower or shorter than "
                    "min_box_size=%s px (annotation ids %s%s)", path, len(dropped), min_box_size, dropped[:5],
                    ", ..." if len(dropped) > 5 else "")
    return {**data, "annotations": kept}


def load_coco(path: Path, min_box_size: float = 1.0) -> COCO:
    """A pycocotools COCO index of the checked and cleaned annotation file (pycocotools' own loader would accept
    dangling ids silently and fail later, far from the cause)."""
    coco = COCO()
    coco.dataset = clean_annotations(read_json(path), path, min_box_size)
    with contextlib.redirect_stdout(io.StringIO()):  # createIndex prints progress
        coco.createIndex()
    return coco


def without_images(coco: COCO, image_ids: set[int]) -> COCO:
    """A new index of `coco` without these images and their annotations."""
    dataset = coco.dataset
    kept = COCO()
    kept.dataset = {**dataset, "images": [i for i in dataset["images"] if i["id"] not in image_ids],
                    "annotations": [a for a in dataset["annotations"] if a["image_id"] not in image_ids]}
    with contextlib.redirect_stdout(io.StringIO()):
        kept.createIndex()
    return kept


def category_table(coco: COCO) -> list[tuple[int, str]]:
    return sorted((c["id"], c["name"]) for c in coco.dataset["categories"])


def check_files(coco: COCO, image_dir: Path, annotation_file: Path) -> None:
    """Every listed image exists (a stat each: cheap even for COCO's 118k; decoding is checked on load)."""
    missing = [coco.imgs[i]["file_name"] for i in sorted(coco.imgs)
               if not (image_dir / coco.imgs[i]["file_name"]).is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} image(s) listed in {annotation_file} are not in {image_dir}, e.g. "
                           f"{missing[:3]}; check data.root and the image folder names")


# -------------------------------------------------------------------------------------------------- dataset
def seeded(transform, seed: int, epoch: int, index: int, image, target):
    """`transform(image, target)` with every random draw derived from (seed, epoch, sample index) alone: the same
    in any worker, with any number of workers and after any resume; the process's global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(counter_seed(seed, epoch, index))
        return transform(image, target)


class COCODetection(Dataset):
    """Images of a COCO index -> (image tensor, target); ordered by image id. An (epoch, index) key (the training
    sampler's, data.resumable) draws the sample's augmentation from (seed, epoch, index) (`seeded`)."""

    def __init__(self, coco: COCO, image_dir: Path, annotation_file: Path, label_of: dict[int, int], transform,
                 seed: int = 0):
        self.coco, self.image_dir, self.annotation_file, self.transform = coco, image_dir, annotation_file, transform
        self.seed = seed
        self.ids = sorted(coco.imgs)
        self.targets = []  # precomputed once: (boxes XYXY float32 [N, 4], labels int64 [N]), crowds left out
        for image_id in self.ids:
            anns = [a for a in coco.imgToAnns.get(image_id, []) if not a["iscrowd"]]
            boxes = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(-1, 4)
            boxes[:, 2:] += boxes[:, :2]
            self.targets.append((boxes, np.array([label_of[a["category_id"]] for a in anns], dtype=np.int64)))

    def check_files(self) -> None:
        check_files(self.coco, self.image_dir, self.annotation_file)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int | tuple[int, int]):
        if isinstance(index, tuple):
            epoch, index = index
            return seeded(self.transform, self.seed, epoch, index, *self.load(index))
        return self.transform(*self.load(index))

    def load(self, index: int) -> tuple[Any, dict]:
        """The decoded image (checked against its listed size) and its target, before any transform."""
        image_id = self.ids[index]
        info = self.coco.imgs[image_id]
        path = self.image_dir / info["file_name"]
        image = load_rgb(path)  # as displayed; DatasetError naming the file if it is truncated or not an image
        listed = (info["width"], info["height"])
        if image.size != listed and image.size == listed[::-1]:
            stored = load_rgb(path, orient=False)
            if stored.size == listed:  # the json describes the stored pixels (EXIF ignored): so do its boxes
                image = stored
        if image.size != listed:
            raise DatasetError(f"{path} is {image.width}x{image.height} pixels but {self.annotation_file} says "
                               f"{info['width']}x{info['height']} (image id {image_id}): its boxes would be wrong")
        boxes, labels = self.targets[index]
        target = {"boxes": torch.from_numpy(boxes.copy()), "labels": torch.from_numpy(labels.copy()),
                  "image_id": image_id, "orig_size": (image.height, image.width)}
        return image, to_tv_target(target, (image.height, image.width))


class CachedCOCODetection(Dataset):
    """The images of a COCODetection from a decoded store (data.decoded), with the same targets. Three modes:

    - `batched` (training with a fixed train_size and flip or no augmentation): the store holds the images
      resized to train_size x train_size, their targets are scaled once, and batches (`__getitems__`) are
      UInt8Batches (with the samples' indices, from which their flips are drawn) that the data module flips on the
      training device;
    - `transform` given (other training): each stored image, as a PIL image, goes through the streaming
      pipeline's transform (the ssd augmentation: the same PIL kernels, without the decoding), keyed by
      (epoch, index) as COCODetection is;
    - neither (evaluation): float images in [0, 1] and their targets, as the streaming pipeline gives them.
    """

    def __init__(self, base: COCODetection, store: DecodedImages, batched: bool, transform, min_box_size: float):
        if len(store) != len(base):
            raise ValueError(f"decoded store {store.folder} has {len(store)} images for {len(base)} in "
                             f"{base.annotation_file}")
        self.store, self.batched, self.transform = store, batched, None if batched else transform
        self.seed = base.seed
        self.ids, self.coco = base.ids, base.coco
        self.targets = []
        for index, (height, width) in enumerate(store.sizes.tolist()):
            boxes, labels = base.targets[index]
            info = base.coco.imgs[base.ids[index]]
            scale = torch.tensor([width / info["width"], height / info["height"]] * 2, dtype=torch.float32)
            target = {"boxes": torch.from_numpy(boxes.copy()) * scale, "labels": torch.from_numpy(labels.copy()),
                      "image_id": base.ids[index], "orig_size": (info["height"], info["width"])}
            self.targets.append(target if self.transform else sanitize_target(target, (height, width),
                                                                               min_box_size))

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int | tuple[int, int]):
        epoch, index = index if isinstance(index, tuple) else (None, index)
        target = self.targets[index]
        if self.transform is not None:
            image = Image.fromarray(self.store.image(index))
            target = to_tv_target(target, (image.height, image.width))
            if epoch is None:
                return self.transform(image, target)
            return seeded(self.transform, self.seed, epoch, index, image, target)
        image = self.store.tensor(index)
        return (image, target) if self.batched else (image.float().div_(255), target)

    def __getitems__(self, indices: list[int]):
        if not self.batched:
            return collate_detection([self[i] for i in indices])
        images, sizes = self.store.batch(indices)
        return UInt8Batch(images, sizes, [self.targets[i] for i in indices], torch.tensor(indices))


class LoadAndResize:
    """The cache build's per-image work (picklable for spawned workers): decode (checking the listed size), then
    resize to size x size when `size` is given, as the streaming pipeline's train_size step does."""

    def __init__(self, dataset: COCODetection, size: int | None):
        self.dataset, self.size = dataset, size

    def __call__(self, index: int) -> torch.Tensor:
        image, _ = self.dataset.load(index)
        if self.size:
            image = v2.functional.resize(image, [self.size, self.size], antialias=True)
        return v2.functional.pil_to_tensor(image)


class LoadImage:
    """The conversion's per-image read (picklable): a COCODetection image as its reader decodes it (the listed
    size checked, a stored-pixels annotation honoured)."""

    def __init__(self, dataset: COCODetection):
        self.dataset = dataset

    def __call__(self, index: int) -> Image.Image:
        return self.dataset.load(index)[0]


class DetectionDecode:
    """A shard record -> (float image, target) through the training transform, in the loader's workers: the
    record's boxes (in the pixels of the image as listed) scaled to the stored image, crowd regions left out (as
    COCODetection does), and every random draw of the transform from (seed, epoch, record id) (`seeded`; the id is
    the image's index in the split, so the draws are those of the same image read from the files)."""

    def __init__(self, transform, seed: int):
        self.transform, self.seed = transform, seed

    def __call__(self, record: dict[str, Any], epoch: int):
        image = Image.open(io.BytesIO(record["image"]))
        image = image.convert("RGB")
        target = record["label"]
        height, width = (int(v) for v in np.asarray(target["size"]))
        keep = np.asarray(target["iscrowd"]) == 0
        scale = torch.tensor([image.width / width, image.height / height] * 2, dtype=torch.float32)
        boxes = torch.as_tensor(np.asarray(target["boxes"], dtype=np.float32)[keep]).reshape(-1, 4) * scale
        labels = torch.as_tensor(np.asarray(target["labels"], dtype=np.int64)[keep])
        plain = {"boxes": boxes, "labels": labels, "image_id": int(np.asarray(target["image_id"])),
                 "orig_size": (height, width)}
        return seeded(self.transform, self.seed, epoch, int(record["id"]), image,
                      to_tv_target(plain, (image.height, image.width)))


def collate_detection(batch):
    """Images differ in size: keep lists (the detectors batch them after their own resize)."""
    images, targets = zip(*batch)
    return list(images), list(targets)


# ---------------------------------------------------------------------------------------------- data module
class COCODataModule(ResumableData, pl.LightningDataModule):
    """COCO-format detection data (see the module docstring).

    Args:
        root: dataset folder; None generates the embedded default into the cache (data.cache).
        train_images, val_images: image folders; train_annotations, val_annotations: json files (relative to root,
            or absolute). COCO has no labelled test split: validation and test both use the val split
            (`metrics_split` says so). The train files are only needed for training.
        augment: "ssd" | "flip" | "none" (data.detection_transforms).
        batch_size, num_workers: DataLoader settings (per process under DDP).
        seed: seeds the training order (data.resumable.EpochSampler) and, with the epoch and each image's index,
            its augmentation (per image in the workers, or per batch for the decoded cache's flips): a run resumed
            mid-epoch trains on exactly what the uninterrupted run would have.
        generator: parameters of the embedded default (data.generate.coco_shapes.DEFAULT_PARAMS); root=None only.
        min_box_size: boxes narrower or shorter than this (px, after clipping or cropping) are dropped.
        image_size: the model's input side; read by the model config, unused here (the detectors resize).
        train_size: resize training images to train_size x train_size after augmentation (None: leave it to the
            model; the result is the same, only the batches are smaller).
        zoom_out_max: largest canvas side / image side of the "ssd" zoom-out.
        decode_cache_gb: decode the images once into a uint8 cache (data.decoded) when the splits being set up
            take at most this many GB, else stream them from disk with `num_workers` workers (0: always stream).
            Cached training with a fixed train_size and flip (or no) augmentation stores train_size x train_size
            images and flips whole batches on the training device in the main process; the ssd augmentation runs
            per image on the stored pixels (as PIL images, the same kernels) in `num_workers` workers.
        bad_images: "skip" leaves unreadable images out of the split and its ground truth (`skipped_images`);
            "error" stops with a DatasetError naming the first.
        source: "files" (the image folders: the decoded cache or streaming) or "shards": the training split from
            LitData shards written by prepare.py into `shards` (data.shards), augmented in the loader's workers with
            per-record random draws (exact resume); validation reads the files.
        shards: the folder prepare.py wrote (prepare.out), for source=shards.
    """

    def __init__(self, root: str | None = None, train_images: str = "train2017", val_images: str = "val2017",
                 train_annotations: str = "annotations/instances_train2017.json",
                 val_annotations: str = "annotations/instances_val2017.json", augment: str = "ssd",
                 batch_size: int = 16, num_workers: int = 2, seed: int = 0, generator: dict | None = None,
                 min_box_size: float = 1.0, image_size: int | None = None, train_size: int | None = None,
                 zoom_out_max: float = 2.0, decode_cache_gb: float = 8.0, bad_images: str = "skip",
                 source: str = "files", shards: str | None = None):
        super().__init__()
        self.bad_images = check_bad_images(bad_images)
        self.source, self.shards = check_source(source, shards)
        if augment not in AUGMENTS:
            raise ValueError(f"data.augment must be one of {list(AUGMENTS)}, got {augment!r}")
        if root is None:
            from .generate.coco_shapes import ensure_coco_shapes
            self.root = ensure_coco_shapes(generator)
        else:
            if generator:
                raise ValueError("data.generator only applies to the embedded default (data.root=null)")
            self.root = Path(root).expanduser()
            if not self.root.is_dir():
                raise DatasetError(f"COCO root not found: {self.root}; {ROOT_HINT}")
        self.paths = {"train": (self.root / train_annotations, self.root / train_images),
                      "val": (self.root / val_annotations, self.root / val_images)}
        if not self.paths["val"][0].is_file():  # the train files are checked when training needs them
            raise DatasetError(f"COCO annotation file not found: {self.paths['val'][0]}; {ROOT_HINT}")
        self.skipped_images: list[str] = []  # unreadable files left out (bad_images=skip), for results.json
        self.metrics_split = "val (no test split in the data; the checkpoint was also selected on it)"
        self._checked_splits: set[str] = set()  # splits whose image files were checked
        self.augment, self.batch_size, self.num_workers, self.seed = augment, batch_size, num_workers, seed
        self.min_box_size, self.image_size, self.train_size = min_box_size, image_size, train_size
        self.zoom_out_max, self.decode_cache_gb = zoom_out_max, decode_cache_gb

        self._coco: dict[str, COCO] = {"val": load_coco(self.paths["val"][0], min_box_size)}
        self.categories = category_table(self._coco["val"])
        self.category_ids = [cid for cid, _ in self.categories]
        self.class_names = [name for _, name in self.categories]
        self.label_of = {cid: i + 1 for i, cid in enumerate(self.category_ids)}
        self._category_tensor = torch.tensor(self.category_ids, dtype=torch.int64)
        self.datasets: dict[str, COCODetection] = {}

    @property
    def num_classes(self) -> int:
        """Foreground categories K (labels 1..K; the detectors add background 0)."""
        return len(self.category_ids)

    def to_coco_category(self, labels):
        """Contiguous labels (1..K) -> COCO category ids: a tensor gives a tensor, a sequence a list, an int an int."""
        as_tensor = torch.as_tensor(labels, dtype=torch.int64)
        if as_tensor.numel() and (as_tensor.min() < 1 or as_tensor.max() > self.num_classes):
            raise ValueError(f"labels must be in 1..{self.num_classes}, got {as_tensor.unique().tolist()}")
        ids = self._category_tensor.to(as_tensor.device)[as_tensor - 1]
        if isinstance(labels, torch.Tensor):
            return ids
        return int(ids) if ids.dim() == 0 else ids.tolist()

    def to_label(self, category_ids):
        """COCO category ids -> contiguous labels (1..K); unknown ids are a KeyError naming them."""
        if isinstance(category_ids, (int, np.integer)):
            return self.label_of[int(category_ids)]
        return [self.label_of[int(c)] for c in category_ids]

    def coco_gt(self, split: str = "val") -> COCO:
        """The pycocotools index of a split's cleaned annotations (what COCOeval scores against); once the split
        is set up, without the images bad_images=skip left out."""
        if split not in self.paths:
            raise ValueError(f"split must be one of {list(self.paths)}, got {split!r}")
        if split not in self._coco:
            annotation_file = self.paths[split][0]
            if not annotation_file.is_file():
                raise DatasetError(f"COCO annotation file not found: {annotation_file}; {ROOT_HINT}")
            self._coco[split] = load_coco(annotation_file, self.min_box_size)
            if category_table(self._coco[split]) != self.categories:
                raise DatasetError(f"{self.paths[split][0]} and {self.paths['val'][0]} list different categories "
                                   f"({category_table(self._coco[split])} vs {self.categories}): both splits "
                                   f"need the same 'categories'")
        return self._coco[split]

    def _batched(self, split: str) -> bool:
        """Whether the cached pipeline stores this split at a fixed size and augments whole batches."""
        return split == "train" and bool(self.train_size) and self.augment in ("flip", "none")

    def _checked(self, split: str) -> COCO:
        """coco_gt(split) once its image folder and every listed file exist, without the unreadable images
        (bad_images=skip; removed from the ground truth too, so evaluation does not count them as missed)."""
        coco = self.coco_gt(split)
        if split in self._checked_splits:
            return coco
        annotation_file, image_dir = self.paths[split]
        if not image_dir.is_dir():
            raise DatasetError(f"COCO image folder not found: {image_dir}; {ROOT_HINT}")
        check_files(coco, image_dir, annotation_file)
        paths = {str(image_dir / info["file_name"]): image_id for image_id, info in sorted(coco.imgs.items())}
        bad = unreadable_images(list(paths), self.bad_images, f"{annotation_file.name} ({image_dir})")
        if bad:
            self.skipped_images += bad
            coco = self._coco[split] = without_images(coco, {paths[p] for p in bad})
        self._checked_splits.add(split)
        return coco

    def _dataset(self, split: str, train: bool) -> COCODetection:
        transform = detection_transforms(train, self.augment if train else "none", zoom_out_max=self.zoom_out_max,
                                         train_size=self.train_size, min_box_size=self.min_box_size)
        annotation_file, image_dir = self.paths[split]
        return COCODetection(self._checked(split), image_dir, annotation_file, self.label_of, transform, self.seed)

    def image_paths(self, split: str) -> list[Path]:
        """The (readable) image files of a split ("train", or "val" = "test"), in image id order."""
        split = "val" if split == "test" else split
        coco, image_dir = self._checked(split), self.paths[split][1]
        return [image_dir / coco.imgs[i]["file_name"] for i in sorted(coco.imgs)]

    def train_samples(self) -> list[tuple[Path, dict[str, Any]]]:
        """The training split as (image path, target) in image id order: what shards hold and the fingerprint
        covers. Target: "boxes" float32 [N, 4] XYXY in the pixels of the image as listed, "labels" int64 [N],
        "iscrowd" uint8 [N] (crowd regions kept, as the annotation file has them), "image_id", "size" (h, w)."""
        coco, image_dir = self._checked("train"), self.paths["train"][1]
        samples = []
        for image_id in sorted(coco.imgs):
            info, anns = coco.imgs[image_id], coco.imgToAnns.get(image_id, [])
            boxes = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(-1, 4)
            boxes[:, 2:] += boxes[:, :2]
            samples.append((image_dir / info["file_name"], {
                "boxes": boxes, "labels": np.array([self.label_of[a["category_id"]] for a in anns], dtype=np.int64),
                "iscrowd": np.array([a["iscrowd"] for a in anns], dtype=np.uint8), "image_id": image_id,
                "size": np.array([info["height"], info["width"]], dtype=np.int64)}))
        return samples

    def write_shards(self, out: str | Path, split: str = "train", **options) -> Path | None:
        """Write the training split as LitData shards into `out`/train (prepare.py; data.shards.write_shards takes
        `options`), with the categories in the manifest and the annotation file copied beside the chunks."""
        if split != "train":
            raise DatasetError(f"prepare.splits: COCO shards hold the training split only; {split} reads its files "
                               f"(COCOeval scores against its annotation file): prepare.splits=[train]")
        annotation_file, image_dir = self.paths["train"]
        loader = LoadImage(COCODetection(self._checked("train"), image_dir, annotation_file, self.label_of, None))
        settings = {"data": type(self).__name__, "categories": self.categories, "class_names": self.class_names,
                    "annotations": str(annotation_file), "skipped_images": list(self.skipped_images)}
        folder = write_shards(self.train_samples(), out, "train", settings, load=loader, **options)
        if folder is not None:  # the annotations the records came from, for evaluation and inspection
            tmp = folder / f".annotations.json.{os.getpid()}.tmp"
            shutil.copyfile(annotation_file, tmp)
            os.replace(tmp, folder / "annotations.json")
        return folder

    def setup(self, stage: str | None = None) -> None:
        splits = ["val", "train"] if stage in ("fit", None) else ["val"]
        if "train" in splits and not self.train_fingerprint:  # in checkpoints: a resume on changed data is refused
            self.train_fingerprint = samples_fingerprint(self.train_samples())
            if self.source == "shards":  # checked now, opened by the loader (after DDP has started)
                check_shards(Path(self.shards).expanduser() / "train", self.train_fingerprint)
        streaming = {split: self._dataset(split, train=split == "train") for split in splits
                     if split not in self.datasets and not (split == "train" and self.source == "shards")}
        if not streaming:
            return
        estimate = sum(estimate_bytes([(info["width"], info["height"]) for info in ds.coco.imgs.values()],
                                      self._prepared_size(split)) for split, ds in streaming.items())
        cache = plan_cache(estimate, self.decode_cache_gb, f"COCO {'+'.join(streaming)} data ({self.root})")
        self.datasets.update({split: self._cached(split, ds) if cache else ds for split, ds in streaming.items()})

    def _prepared_size(self, split: str):
        """(width, height) of an image as the cache stores it."""
        return (lambda w, h: (self.train_size, self.train_size)) if self._batched(split) else (lambda w, h: (w, h))

    def _cached(self, split: str, streaming: COCODetection) -> CachedCOCODetection:
        batched = self._batched(split)
        size = self.train_size if batched else None
        infos = [streaming.coco.imgs[i] for i in streaming.ids]
        listed = hashlib.sha1(json.dumps([(i["width"], i["height"]) for i in infos]).encode()).hexdigest()
        settings = {"size": size, "listed_sizes": listed}  # a listed size is checked when the store is built
        paths = [streaming.image_dir / info["file_name"] for info in infos]
        store = decoded_images(paths, str(self.root), settings, LoadAndResize(streaming, size), self.num_workers)
        return CachedCOCODetection(streaming, store, batched, streaming.transform if split == "train" else None,
                                   self.min_box_size)

    @property
    def cached(self) -> bool:
        """Whether the decoded cache serves the data (the training split's, or else the validation split's; known
        after setup)."""
        return isinstance(self.datasets.get("train", self.datasets.get("val")), CachedCOCODetection)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Flip the cached pipeline's uint8 training batches, images and boxes, on their device, drawn from
        (seed, epoch, the batch's sample indices) (data.batch_augment.batch_generator)."""
        if isinstance(batch, UInt8Batch):
            images = batch.images.float().div_(255)
            if self.augment == "flip":
                epoch = self.trainer.current_epoch if self.trainer else 0
                return flip_detection_batch(images, batch.targets, generator=batch_generator(self.seed, epoch,
                                                                                             batch.ids))
            return images, batch.targets
        return batch

    def _loader(self, split: str, train: bool) -> DataLoader:
        if train and self.source == "shards":
            self.setup("fit")
            transform = detection_transforms(True, self.augment, zoom_out_max=self.zoom_out_max,
                                             train_size=self.train_size, min_box_size=self.min_box_size)
            dataset = open_shards(self.shards, "train", self.train_fingerprint, DetectionDecode(transform, self.seed),
                                  self.seed)
            self._train_loader = ShardLoader(dataset, batch_size=self.batch_size, num_workers=self.num_workers,
                                             collate_fn=collate_detection, resume=self.take_resume())
            return self._train_loader
        if split not in self.datasets:
            self.setup("fit" if train else "test")
        dataset = self.datasets[split]
        in_main_process = isinstance(dataset, CachedCOCODetection) and dataset.transform is None
        workers = 0 if in_main_process else self.num_workers
        # the resumable order (data.resumable); per-image augmentation keyed by (epoch, index)
        sampler = self.resumed(EpochSampler(dataset, self.seed, keyed=not in_main_process)) if train else None
        loader = DataLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                            collate_fn=whole_batch if isinstance(dataset, CachedCOCODetection) else collate_detection,
                            num_workers=workers, persistent_workers=workers > 0,
                            pin_memory=torch.cuda.is_available(), drop_last=train and len(dataset) > self.batch_size,
                            # off the global RNG (data.resumable): the training order's loader, and loaders with
                            # persistent workers (which draw a seed only the first time an epoch iterates them)
                            generator=torch.Generator() if train or workers else None)
        if train:
            self._train_loader = loader
        return loader

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        """The val split again, in the same fixed order (COCO's test-dev labels are not public)."""
        return self._loader("val", train=False)
