"""COCO reader, embedded generator and detection transforms: the generated format read by pycocotools, the label
mapping, crowd and empty images, boxes following the augmentations, and every kind of bad input."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from torchvision import tv_tensors

from data.coco import COCODataModule, collate_detection
from data.detection_transforms import MEAN_FILL, detection_transforms
from data.errors import DatasetError
from data.generate.coco_shapes import (CATEGORIES, annotation, ensure_coco_shapes, generate_coco_shapes,
                                      resolve_params)

from conftest import compose_config

TINY = {"train_images": 10, "val_images": 8, "min_side": 64, "max_side": 80, "crowd_prob": 0.5, "empty_prob": 0.2}


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory) -> Path:
    return generate_coco_shapes(tmp_path_factory.mktemp("shapes") / "root", TINY)


def module(root, **kw) -> COCODataModule:
    return COCODataModule(root=str(root), batch_size=4, num_workers=0, **kw)


# ----------------------------------------------------------------------------------------- generated dataset
def test_generated_dataset_is_real_coco(shapes_root):
    for split, count in (("train2017", 10), ("val2017", 8)):
        path = shapes_root / "annotations" / f"instances_{split}.json"
        coco = COCO(str(path))  # pycocotools' own loader
        raw = json.loads(path.read_text())
        assert {"info", "licenses", "images", "annotations", "categories"} <= set(raw)
        assert sorted(coco.getCatIds()) == [1, 3, 7, 8, 12, 20]  # non-contiguous, like COCO's
        assert len(coco.getImgIds()) == count
        for image in coco.loadImgs(coco.getImgIds()):
            with Image.open(shapes_root / split / image["file_name"]) as im:
                assert im.size == (image["width"], image["height"]) and 64 <= min(im.size) <= max(im.size) <= 80
        for ann in coco.loadAnns(coco.getAnnIds()):
            x, y, w, h = ann["bbox"]
            image = coco.imgs[ann["image_id"]]
            assert 0 <= x and 0 <= y and x + w <= image["width"] and y + h <= image["height"] and w > 0 and h > 0
            mask = coco.annToMask(ann)  # the visible pixels (at least half covered); the box holds them ...
            ys, xs = np.nonzero(mask)
            assert x - 1 <= xs.min() and xs.max() + 1 <= x + w + 1 and y - 1 <= ys.min() and ys.max() + 1 <= y + h + 1
            if not ann["iscrowd"]:  # ... tightly (a crowd's tiny shapes may cover no pixel by half)
                assert abs(xs.min() - x) <= 1 and abs(xs.max() + 1 - (x + w)) <= 1
                assert abs(ys.min() - y) <= 1 and abs(ys.max() + 1 - (y + h)) <= 1
            assert ann["area"] == pytest.approx(mask.sum(), rel=0.25, abs=4)
            assert mask_util.area(ann["segmentation"]) == mask.sum()


def test_annotation_box_is_tight_around_the_visible_pixels():
    """A hand-made supersampled mask (2x): the box, area and RLE follow from it by hand."""
    visible = np.zeros((40, 60), bool)  # a 30x20 image at 2x
    visible[7:20, 11:30] = True          # image rows 3.5..10, columns 5.5..15
    visible[7, 11] = False               # a corner pixel off does not change the box
    ann = annotation({"category_id": 7, "iscrowd": 0, "visible": visible}, ann_id=3, image_id=9)
    assert ann["bbox"] == [5.5, 3.5, 9.5, 6.5] and ann["area"] == (13 * 19 - 1) / 4
    assert (ann["id"], ann["image_id"], ann["category_id"], ann["iscrowd"]) == (3, 9, 7, 0)
    mask = mask_util.decode(ann["segmentation"])  # image pixels at least half covered
    assert mask.shape == (20, 30) and np.argwhere(mask).min(0).tolist() == [3, 5]  # half-covered edges are in
    assert np.argwhere(mask).max(0).tolist() == [9, 14] and mask[3, 5] == 0  # a quarter is out
    assert annotation({"category_id": 1, "iscrowd": 0, "visible": np.zeros((8, 8), bool)}, 1, 1) is None


def test_generation_is_deterministic(shapes_root, tmp_path):
    again = generate_coco_shapes(tmp_path / "again", TINY)
    for name in ("instances_train2017.json", "instances_val2017.json"):
        assert (again / "annotations" / name).read_bytes() == (shapes_root / "annotations" / name).read_bytes()
    for path in sorted((shapes_root / "val2017").glob("*.jpg"))[:4]:
        assert path.read_bytes() == (again / "val2017" / path.name).read_bytes()


def test_generator_parameters_and_cache_folder(tmp_path):
    with pytest.raises(KeyError, match="train_imagez"):
        resolve_params({"train_imagez": 3})
    params = {"train_images": 2, "val_images": 2, "min_side": 48, "max_side": 48}
    folder = ensure_coco_shapes(params, cache_dir=tmp_path)
    assert folder.name.startswith("coco_shapes_generated-") and (folder / "val2017").is_dir()
    stamp = (folder / "annotations" / "instances_val2017.json").stat().st_mtime_ns
    assert ensure_coco_shapes(params, cache_dir=tmp_path) == folder  # complete: not regenerated
    assert (folder / "annotations" / "instances_val2017.json").stat().st_mtime_ns == stamp
    assert ensure_coco_shapes({**params, "seed": 1}, cache_dir=tmp_path) != folder


def test_generated_variety(tmp_path):
    """Empty images, crowd regions, small and large objects and several objects per image all occur."""
    root = generate_coco_shapes(tmp_path / "v", {"train_images": 0, "val_images": 60, "min_side": 96,
                                                 "max_side": 96, "crowd_prob": 0.2})
    coco = COCO(str(root / "annotations" / "instances_val2017.json"))
    per_image = [len(coco.getAnnIds(imgIds=i, iscrowd=False)) for i in coco.getImgIds()]
    assert 0 in per_image and max(per_image) >= 3
    anns = coco.loadAnns(coco.getAnnIds())
    assert any(a["iscrowd"] for a in anns)
    sides = [max(a["bbox"][2:]) / 96 for a in anns if not a["iscrowd"]]
    assert min(sides) < 0.12 and max(sides) > 0.4
    assert {a["category_id"] for a in anns} == {cid for cid, _ in CATEGORIES}


# -------------------------------------------------------------------------------------------- data module
def test_category_mapping_round_trip(shapes_root):
    dm = module(shapes_root)
    assert dm.num_classes == 6 and dm.category_ids == [1, 3, 7, 8, 12, 20]
    assert dm.class_names == ["circle", "square", "triangle", "star", "cross", "ring"]
    labels = list(range(1, 7))
    assert dm.to_coco_category(labels) == [1, 3, 7, 8, 12, 20]
    assert dm.to_label(dm.to_coco_category(labels)) == labels
    assert torch.equal(dm.to_coco_category(torch.tensor([6, 1, 4])), torch.tensor([20, 1, 8]))
    assert dm.to_coco_category(5) == 12
    with pytest.raises(ValueError, match="1..6"):
        dm.to_coco_category([0])
    with pytest.raises(KeyError):
        dm.to_label([2])


def test_val_batches_match_the_annotations(shapes_root):
    """Val/test: every image, in fixed id order, unresized, with its non-crowd boxes (XYXY) and labels."""
    dm = module(shapes_root, augment="ssd")
    dm.setup("test")
    gt = COCO(str(shapes_root / "annotations" / "instances_val2017.json"))  # independent reading
    seen = []
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        ids = []
        for images, targets in loader:
            assert isinstance(images, list) and isinstance(targets, list)
            for image, target in zip(images, targets):
                info = gt.imgs[target["image_id"]]
                assert image.dtype == torch.float32 and image.shape == (3, info["height"], info["width"])
                assert 0 <= image.min() and image.max() <= 1
                assert target["orig_size"] == (info["height"], info["width"])
                anns = gt.loadAnns(gt.getAnnIds(imgIds=info["id"], iscrowd=False))
                expected = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                          a["bbox"][1] + a["bbox"][3]] for a in anns]).reshape(-1, 4)
                assert target["boxes"].dtype == torch.float32 and torch.allclose(target["boxes"], expected)
                assert target["labels"].dtype == torch.int64
                assert dm.to_coco_category(target["labels"].tolist()) == [a["category_id"] for a in anns]
                ids.append(target["image_id"])
        seen.append(ids)
    assert seen[0] == seen[1] == sorted(gt.getImgIds())
    assert dm.coco_gt("val").getImgIds() == gt.getImgIds()


def test_crowd_excluded_from_targets_kept_in_ground_truth_and_empty_images_kept(shapes_root):
    dm = module(shapes_root, augment="none")
    dm.setup("fit")
    gt = dm.coco_gt("train")
    crowd_images = {a["image_id"] for a in gt.loadAnns(gt.getAnnIds(iscrowd=True))}
    assert crowd_images, "TINY has crowd_prob 0.5"
    empty = [i for i in gt.getImgIds() if not gt.getAnnIds(imgIds=i)]
    assert empty, "TINY has empty_prob 0.2"
    dataset = dm.datasets["train"]
    assert len(dataset) == 10  # nothing dropped
    for index, image_id in enumerate(dataset.ids):
        _, target = dataset[index]
        assert len(target["boxes"]) == len(gt.getAnnIds(imgIds=image_id, iscrowd=False))
        if image_id in empty:
            assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)


def test_train_batches_and_seeded_order(shapes_root):
    def first_ids(seed):
        torch.manual_seed(seed)  # the training order draws from the global RNG (train.py seeds it with `seed`)
        dm = module(shapes_root, augment="ssd", seed=seed, train_size=48)
        images, targets = next(iter(dm.train_dataloader()))
        assert all(im.shape == (3, 48, 48) for im in images)
        for t in targets:
            b = t["boxes"]
            assert len(b) == len(t["labels"]) and ((b >= 0) & (b <= 48)).all()
        return [t["image_id"] for t in targets]
    assert first_ids(0) == first_ids(0)
    assert any(first_ids(0) != first_ids(s) for s in (1, 2, 3))


def test_collate_keeps_lists():
    a, b = torch.zeros(3, 4, 5), torch.zeros(3, 6, 7)
    images, targets = collate_detection([(a, {"image_id": 1}), (b, {"image_id": 2})])
    assert images[0] is a and images[1] is b and [t["image_id"] for t in targets] == [1, 2]


def test_config_builds_the_module(tmp_path):
    from hydra.utils import instantiate
    cfg = compose_config(["task=ssd", "data.generator={train_images: 2, val_images: 2, min_side: 48, max_side: 48}",
                          "data.num_workers=0"])
    assert cfg.data._target_ == "data.coco.COCODataModule" and cfg.image_size == cfg.data.image_size
    dm = instantiate(cfg.data, _convert_="all")
    assert dm.num_classes == 6 and dm.augment == "flip" and dm.image_size == cfg.image_size


# ------------------------------------------------------------------------------------------------ transforms
def scene(seed=0, size=(90, 120)):
    """An image with three labelled rectangles, and per object a mask whose value is its label: the masks follow
    the same geometric transforms as the boxes (not the photometric ones), so boxes can be checked against them."""
    rng = np.random.default_rng(seed)
    h, w = size
    pixels = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    boxes, masks = [], []
    for label, (x0, y0, x1, y1) in zip((3, 5, 6), ((5, 10, 40, 50), (50, 20, 110, 60), (20, 60, 45, 85))):
        boxes.append([x0, y0, x1, y1])
        m = np.zeros((h, w), np.uint8)
        m[y0:y1, x0:x1] = label
        masks.append(m)
    target = {"boxes": tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32), format="XYXY",
                                                canvas_size=(h, w)),
              "labels": torch.tensor([3, 5, 6]), "masks": tv_tensors.Mask(torch.from_numpy(np.stack(masks))),
              "image_id": 7, "orig_size": (h, w)}
    return Image.fromarray(pixels), target


def test_flip_mirrors_boxes_and_pixels():
    image, target = scene()
    original = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
    flips = 0
    torch.manual_seed(0)
    for _ in range(20):
        out, t = detection_transforms(True, "flip")(image, target)
        assert t["image_id"] == 7 and t["orig_size"] == (90, 120) and torch.equal(t["labels"], target["labels"])
        if torch.equal(t["boxes"], target["boxes"]):
            assert torch.allclose(out, original)
        else:
            flips += 1
            mirrored = target["boxes"].clone()
            mirrored[:, [0, 2]] = 120 - target["boxes"][:, [2, 0]]
            assert torch.equal(t["boxes"], mirrored) and torch.allclose(out, original.flip(-1))
    assert 3 <= flips <= 17


def test_none_and_eval_leave_everything():
    image, target = scene()
    for transform in (detection_transforms(True, "none"), detection_transforms(False, "ssd")):
        out, t = transform(image, target)
        assert out.shape == (3, 90, 120) and out.dtype == torch.float32
        assert type(t["boxes"]) is torch.Tensor and torch.equal(t["boxes"], target["boxes"].as_subclass(torch.Tensor))


@pytest.mark.parametrize("train_size", [None, 64])
def test_ssd_augment_boxes_follow_crops_and_labels_stay_with_boxes(train_size):
    image, target = scene()
    transform = detection_transforms(True, "ssd", train_size=train_size)
    torch.manual_seed(0)
    changed = filled = 0
    for _ in range(40):
        out, t = transform(image, target)
        filled += bool(((out * 255).round() == torch.tensor(MEAN_FILL)[:, None, None]).all(0).any())
        _, h, w = out.shape
        boxes, labels, masks = t["boxes"], t["labels"], t["masks"]
        assert len(boxes) == len(labels) == len(masks) and labels.dtype == torch.int64
        assert ((boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= w) & (boxes[:, 3] <= h)).all()
        assert ((boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)).all()
        changed += out.shape[1:] != (90, 120) if train_size is None else not torch.equal(boxes, target["boxes"])
        for box, label, mask in zip(boxes, labels, masks):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert len(ys) and set(mask[ys, xs].unique().tolist()) == {int(label)}  # this box's own object
            tol = 1.5 if train_size is None else 2.5  # resize: boxes scale exactly, nearest-neighbour masks not
            assert abs(xs.min() - box[0]) <= tol and abs(xs.max() + 1 - box[2]) <= tol
            assert abs(ys.min() - box[1]) <= tol and abs(ys.max() + 1 - box[3]) <= tol
        if train_size:
            assert out.shape == (3, train_size, train_size)
    assert changed >= 10  # zoom-outs and crops happen
    assert filled >= 3  # zoom-out canvases are filled with the mean colour


def test_ssd_augment_on_an_image_without_boxes():
    image, _ = scene()
    empty = {"boxes": tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYXY", canvas_size=(90, 120)),
             "labels": torch.zeros(0, dtype=torch.int64)}
    torch.manual_seed(0)
    for _ in range(10):
        out, t = detection_transforms(True, "ssd")(image, empty)
        assert t["boxes"].shape == (0, 4) and out.dim() == 3


def test_unknown_augment():
    with pytest.raises(ValueError, match="augment"):
        detection_transforms(True, "mosaic")


# ------------------------------------------------------------------------------------------------- bad input
CATS = [{"id": 4, "name": "cat", "supercategory": "animal"}, {"id": 9, "name": "dog", "supercategory": "animal"}]


def write_dataset(root: Path, annotations: list[dict] | None = None, images: list[dict] | None = None,
                  categories: list[dict] | None = None) -> Path:
    """A tiny hand-written COCO dataset (train = val) with real image files."""
    images = images if images is not None else [
        {"id": 11, "file_name": "a.jpg", "width": 64, "height": 48},
        {"id": 12, "file_name": "b.jpg", "width": 40, "height": 40}]
    annotations = annotations if annotations is not None else [
        {"id": 1, "image_id": 11, "category_id": 9, "bbox": [4, 5, 20, 10], "area": 200, "iscrowd": 0}]
    for split in ("train2017", "val2017"):
        (root / split).mkdir(parents=True, exist_ok=True)
        for image in images:
            Image.new("RGB", (image["width"], image["height"]), (90, 120, 30)).save(root / split / image["file_name"])
    (root / "annotations").mkdir(exist_ok=True)
    data = {"images": images, "annotations": annotations, "categories": categories or CATS}
    for split in ("train2017", "val2017"):
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data, indent=1))
    return root


def test_hand_written_dataset_loads(tmp_path):
    dm = module(write_dataset(tmp_path))
    assert dm.category_ids == [4, 9] and dm.class_names == ["cat", "dog"]
    dm.setup("fit")
    images, targets = next(iter(dm.val_dataloader()))
    assert targets[0]["image_id"] == 11 and targets[0]["labels"].tolist() == [2]
    assert targets[0]["boxes"].tolist() == [[4, 5, 24, 15]]
    assert targets[1]["boxes"].shape == (0, 4)  # image without objects


def test_malformed_json_names_file_and_position(tmp_path):
    root = write_dataset(tmp_path)
    path = root / "annotations" / "instances_val2017.json"
    path.write_text('{\n  "images": [\n    {"id": 1,, "file_name": "a.jpg"}\n  ]\n}')
    with pytest.raises(DatasetError, match=r"instances_val2017\.json: malformed JSON at line 3, column 14"):
        module(root)


def test_annotation_with_unknown_image_id(tmp_path):
    root = write_dataset(tmp_path, [{"id": 77, "image_id": 999, "category_id": 4, "bbox": [1, 1, 5, 5]}])
    with pytest.raises(DatasetError, match=r"instances_val2017\.json: annotation id 77 refers to image_id 999"):
        module(root)


def test_annotation_with_unknown_category(tmp_path):
    root = write_dataset(tmp_path, [{"id": 78, "image_id": 11, "category_id": 42, "bbox": [1, 1, 5, 5]}])
    with pytest.raises(DatasetError, match=r"instances_val2017\.json: annotation id 78 has category_id 42.*\[4, 9\]"):
        module(root)


@pytest.mark.parametrize("entry, message", [
    ({"id": 5, "image_id": 11, "bbox": [1, 1, 5, 5]}, r"annotation id 5 has no \['category_id'\]"),
    ({"id": 5, "image_id": 11, "category_id": 4, "bbox": [1, 1, 5]}, r"annotation id 5 has bbox \[1, 1, 5\]"),
    ({"image_id": 11, "category_id": 4, "bbox": [1, 1, 5, 5]}, r"annotations\[0\] has no \['id'\]"),
])
def test_malformed_annotation_entries(tmp_path, entry, message):
    with pytest.raises(DatasetError, match=message):
        module(write_dataset(tmp_path, [entry]))


def test_duplicate_ids(tmp_path):
    ann = {"id": 5, "image_id": 11, "category_id": 4, "bbox": [1, 1, 5, 5]}
    with pytest.raises(DatasetError, match="annotation id 5 is listed twice"):
        module(write_dataset(tmp_path / "a", [ann, ann]))
    image = {"id": 3, "file_name": "x.jpg", "width": 8, "height": 8}
    with pytest.raises(DatasetError, match="image id 3 is listed twice"):
        module(write_dataset(tmp_path / "b", [], [image, {**image, "file_name": "y.jpg"}]))


def test_boxes_outside_the_image_clipped_degenerate_dropped_with_count(tmp_path, caplog):
    anns = [{"id": 1, "image_id": 11, "category_id": 4, "bbox": [-10, 5, 30, 20]},     # clipped to [0, 5, 20, 20]
            {"id": 2, "image_id": 11, "category_id": 9, "bbox": [50, 40, 30, 30]},     # clipped to [50, 40, 14, 8]
            {"id": 3, "image_id": 11, "category_id": 9, "bbox": [70, 10, 5, 5]},       # wholly outside: dropped
            {"id": 4, "image_id": 12, "category_id": 4, "bbox": [10, 10, 0.4, 8]},     # thinner than 1 px: dropped
            {"id": 5, "image_id": 12, "category_id": 4, "bbox": [10, 39.5, 5, 5]}]     # 0.5 px high once clipped
    root = write_dataset(tmp_path, anns)
    with caplog.at_level(logging.WARNING, logger="data.coco"):
        dm = module(root)
    assert "dropped 3 annotation(s)" in caplog.text and "instances_val2017.json" in caplog.text
    gt = dm.coco_gt("val")
    assert sorted(gt.anns) == [1, 2]
    assert gt.anns[1]["bbox"] == [0, 5, 20, 20] and gt.anns[2]["bbox"] == [50, 40, 14, 8]
    dm.setup("test")
    _, target = dm.datasets["val"][0]
    assert target["boxes"].tolist() == [[0, 5, 20, 25], [50, 40, 64, 48]] and target["labels"].tolist() == [1, 2]
    # a stricter min_box_size drops more
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="data.coco"):
        assert sorted(module(root, min_box_size=10).coco_gt("val").anns) == [1]
    assert "dropped 4 annotation(s)" in caplog.text


@pytest.mark.parametrize("decode_cache_gb", [8.0, 0.0])  # found when the cache is built / when loaded
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_image_names_the_file(tmp_path, damage, decode_cache_gb):
    root = write_dataset(tmp_path)
    path = root / "val2017" / "b.jpg"
    if damage == "garbage":
        path.write_bytes(b"this is not a jpeg")
    else:
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
        path.write_bytes(path.read_bytes()[:300])
    dm = module(root, decode_cache_gb=decode_cache_gb, bad_images="error")
    with pytest.raises(DatasetError, match=r"cannot read image .*val2017/b\.jpg.*data\.bad_images=skip"):
        dm.setup("test")
        for _ in dm.val_dataloader():
            pass


@pytest.mark.parametrize("decode_cache_gb", [8.0, 0.0])
def test_unreadable_image_is_left_out_of_the_split_and_its_ground_truth(tmp_path, decode_cache_gb, caplog):
    annotations = [{"id": 1, "image_id": 11, "category_id": 9, "bbox": [4, 5, 20, 10]},
                   {"id": 2, "image_id": 12, "category_id": 4, "bbox": [1, 2, 10, 10]}]
    root = write_dataset(tmp_path, annotations)
    (root / "val2017" / "a.jpg").write_bytes(b"")
    dm = module(root, decode_cache_gb=decode_cache_gb)
    assert dm.skipped_images == []
    with caplog.at_level(logging.WARNING, logger="data.images"):
        dm.setup("test")
    assert dm.skipped_images == [str(root / "val2017" / "a.jpg")] and "left out 1 unreadable image" in caplog.text
    assert dm.coco_gt("val").getImgIds() == [12] and sorted(dm.coco_gt("val").anns) == [2]  # not counted as missed
    assert dm.image_paths("test") == [root / "val2017" / "b.jpg"]
    (images,), (targets,) = zip(*[batch for batch in dm.test_dataloader()])
    assert [t["image_id"] for t in targets] == [12] and targets[0]["boxes"].tolist() == [[1, 2, 11, 12]]
    dm.setup("fit")  # the train split's a.jpg is readable: kept
    assert len(dm.datasets["train"]) == 2 and dm.skipped_images == [str(root / "val2017" / "a.jpg")]


@pytest.mark.parametrize("decode_cache_gb", [8.0, 0.0])
def test_image_size_disagreeing_with_the_json(tmp_path, decode_cache_gb):
    root = write_dataset(tmp_path)
    Image.new("RGB", (41, 40)).save(root / "val2017" / "b.jpg")
    dm = module(root, decode_cache_gb=decode_cache_gb)
    with pytest.raises(DatasetError, match=r"b\.jpg is 41x40 pixels but .*instances_val2017\.json says 40x40"):
        dm.setup("test")
        dm.datasets["val"][1]


def test_missing_paths_say_how_to_fix(tmp_path):
    with pytest.raises(DatasetError, match=r"COCO root not found: .*nowhere.*data\.root=null"):
        module(tmp_path / "nowhere")
    root = write_dataset(tmp_path / "ds")
    shutil.rmtree(root / "train2017")
    dm = module(root)  # testing does not need the train images: only training does
    dm.setup("test")
    with pytest.raises(DatasetError, match=r"image folder not found: .*train2017.*data\.root=null"):
        dm.setup("fit")
    (root / "annotations" / "instances_train2017.json").unlink()
    with pytest.raises(DatasetError, match=r"annotation file not found: .*instances_train2017\.json.*data\.root="):
        module(root).setup("fit")
    root = write_dataset(tmp_path / "ds1")
    (root / "annotations" / "instances_val2017.json").unlink()
    with pytest.raises(DatasetError, match=r"annotation file not found: .*instances_val2017\.json.*data\.root="):
        module(root)
    root = write_dataset(tmp_path / "ds2")
    (root / "train2017" / "a.jpg").unlink()
    dm = module(root)
    with pytest.raises(DatasetError, match=r"1 image\(s\) listed in .*instances_train2017\.json are not in .*a\.jpg"):
        dm.setup("fit")
    with pytest.raises(ValueError, match="data.generator only applies"):
        module(root, generator={"seed": 1})


def test_absolute_paths_and_disagreeing_categories(tmp_path):
    root = write_dataset(tmp_path / "ds")
    other = write_dataset(tmp_path / "other", categories=[*CATS, {"id": 10, "name": "cow"}])
    dm = module(root, train_annotations=str(other / "annotations" / "instances_train2017.json"))
    assert dm.num_classes == 2
    with pytest.raises(DatasetError, match="list different categories"):
        dm.setup("fit")


def test_evaluating_on_an_export_needs_only_its_val_files(tmp_path):
    """eval.py ckpt=<run> data.root=/my/export: the run's config names train files the export does not have."""
    root = write_dataset(tmp_path)
    shutil.rmtree(root / "train2017")
    (root / "annotations" / "instances_train2017.json").unlink()
    dm = module(root)
    assert dm.class_names == ["cat", "dog"]
    dm.setup("test")
    images, targets = next(iter(dm.test_dataloader()))
    assert [t["image_id"] for t in targets] == [11, 12]
    assert dm.metrics_split.startswith("val (no test split in the data;")


ROBOFLOW_CATS = [{"id": 0, "name": "pets-xyz", "supercategory": "none"},
                 {"id": 1, "name": "cat", "supercategory": "pets-xyz"},
                 {"id": 2, "name": "dog", "supercategory": "pets-xyz"}]


def test_placeholder_category_is_not_a_class(tmp_path, caplog):
    anns = [{"id": 1, "image_id": 11, "category_id": 2, "bbox": [4, 5, 20, 10]}]
    with caplog.at_level(logging.INFO, logger="data.coco"):
        dm = module(write_dataset(tmp_path / "a", anns, categories=ROBOFLOW_CATS))
    assert dm.category_ids == [1, 2] and dm.class_names == ["cat", "dog"] and dm.num_classes == 2
    assert "category 'pets-xyz' (id 0) not a class" in caplog.text
    assert sorted(dm.coco_gt("val").cats) == [1, 2]
    dm.setup("fit")
    _, target = dm.datasets["train"][0]
    assert target["labels"].tolist() == [2] and dm.to_coco_category(2) == 2
    # an unused category that is no other's parent stays a class (a val split may lack a rare class)
    cats = [{"id": 1, "name": "cat", "supercategory": "animal"}, {"id": 2, "name": "dog", "supercategory": "animal"},
            {"id": 3, "name": "okapi", "supercategory": "animal"}]
    assert module(write_dataset(tmp_path / "b", anns, categories=cats)).class_names == ["cat", "dog", "okapi"]
    # used by an annotation: a class, whatever its name
    used = [*anns, {"id": 2, "image_id": 12, "category_id": 0, "bbox": [1, 1, 5, 5]}]
    assert module(write_dataset(tmp_path / "c", used, categories=ROBOFLOW_CATS)).num_classes == 3


def test_segmentation_only_annotations_get_the_box_of_their_mask(tmp_path, caplog):
    polygon = [[10, 8, 30, 8, 30, 20, 10, 20]]  # a 20 x 12 rectangle at (10, 8)
    rle = mask_util.encode(np.asfortranarray(np.pad(np.ones((6, 9), np.uint8), ((30, 4), (40, 15)))))  # 40x64
    rle = {"size": rle["size"], "counts": rle["counts"].decode()}
    mask = np.zeros((40, 40), np.uint8)
    mask[5:15, 3:10] = 1
    uncompressed = {"size": [40, 40], "counts": [int(v) for v in _runs(mask)]}
    anns = [{"id": 1, "image_id": 11, "category_id": 4, "segmentation": polygon},                 # no bbox key
            {"id": 2, "image_id": 11, "category_id": 9, "bbox": [], "segmentation": rle},        # empty bbox, RLE
            {"id": 3, "image_id": 12, "category_id": 4, "segmentation": uncompressed, "bbox": None},
            {"id": 4, "image_id": 12, "category_id": 9, "bbox": [1, 1, 4, 4]}]                   # a plain box
    with caplog.at_level(logging.INFO, logger="data.coco"):
        dm = module(write_dataset(tmp_path, anns))
    assert "3 annotation(s) without a bbox got the box of their segmentation mask" in caplog.text
    gt = dm.coco_gt("val")
    assert gt.anns[1]["bbox"] == [10, 8, 20, 12] and gt.anns[1]["area"] == pytest.approx(20 * 12, abs=40)
    assert gt.anns[2]["bbox"] == [40, 30, 9, 6] and gt.anns[2]["area"] == 54
    assert gt.anns[3]["bbox"] == [3, 5, 7, 10] and gt.anns[4]["bbox"] == [1, 1, 4, 4]
    dm.setup("test")
    _, target = dm.datasets["val"][0]
    assert target["boxes"].tolist() == [[10, 8, 30, 20], [40, 30, 49, 36]]
    with pytest.raises(DatasetError, match=r"annotation id 5 has no bbox and no segmentation"):
        module(write_dataset(tmp_path / "bad", [{"id": 5, "image_id": 11, "category_id": 4}]))
    with pytest.raises(DatasetError, match=r"annotation id 6 has no bbox and a segmentation pycocotools cannot read"):
        module(write_dataset(tmp_path / "bad2", [{"id": 6, "image_id": 11, "category_id": 4,
                                                  "segmentation": {"counts": "x"}}]))


def _runs(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE counts of a mask (column-major, starting with a run of zeros)."""
    flat, runs, value, count = mask.flatten(order="F"), [], 0, 0
    for v in flat:
        if v == value:
            count += 1
        else:
            runs.append(count)
            value, count = v, 1
    return [*runs, count]


@pytest.mark.parametrize("decode_cache_gb", [8.0, 0.0])
@pytest.mark.parametrize("orientation", [6, 8])
def test_rotated_phone_photo_with_its_displayed_size(tmp_path, orientation, decode_cache_gb):
    """A labelling tool records a phone photo's displayed size and draws boxes on the displayed image."""
    displayed = np.full((96, 128, 3), 40, np.uint8)  # 128 wide, 96 high as shown
    displayed[20:50, 70:110] = (250, 30, 30)  # the object: x 70..110, y 20..50
    root = write_dataset(tmp_path, [{"id": 1, "image_id": 11, "category_id": 9, "bbox": [70, 20, 40, 30]}],
                         [{"id": 11, "file_name": "phone.jpg", "width": 128, "height": 96}])
    for split in ("train2017", "val2017"):
        stored = Image.fromarray(np.ascontiguousarray(np.rot90(displayed, 1 if orientation == 6 else -1)))
        exif = stored.getexif()
        exif[0x0112] = orientation
        stored.save(root / split / "phone.jpg", quality=95, exif=exif.tobytes())
    with Image.open(root / "val2017" / "phone.jpg") as raw:
        assert raw.size == (96, 128)  # stored sideways: the old reader said "is 96x128 but the JSON says 128x96"
    dm = module(root, decode_cache_gb=decode_cache_gb, augment="none")
    dm.setup("fit")
    for split in ("val", "train"):
        image, target = dm.datasets[split][0]
        assert image.shape == (3, 96, 128)
        x0, y0, x1, y1 = (int(v) for v in target["boxes"][0])
        inside = image[:, y0 + 2:y1 - 2, x0 + 2:x1 - 2]
        assert inside[0].mean() > 0.9 and inside[1].mean() < 0.25  # the box lands on the red object
    # a json that gives the stored size (a tool that ignored the EXIF tag) gets the stored pixels
    (root / "val2017" / "plain.jpg").write_bytes((root / "val2017" / "phone.jpg").read_bytes())
    data = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    data["images"] = [{"id": 11, "file_name": "plain.jpg", "width": 96, "height": 128}]
    data["annotations"] = []
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    dm = module(root, decode_cache_gb=decode_cache_gb)
    dm.setup("test")
    assert dm.datasets["val"][0][0].shape == (3, 128, 96)
