"""Decode once (data.decoded) and batched augmentation (data.batch_augment): the cached pipeline serves the same
images as the streaming one, its augmentation has torchvision's parameter distributions, boxes stay on their
objects, the store is rebuilt when a file or setting changes and never looks complete after a failed build, and the
throughput benchmark runs."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from data.batch_augment import (ClassificationAugment, UInt8Batch, adjust_colors, augment_generator, crop_resize,
                                flip_detection_batch, random_resized_crop_boxes)
from data.cache import is_complete
from data.classification import CachedClassificationDataset, ImageClassificationDataset
from data.coco import COCODataModule
from data.decoded import decoded_images, load_rgb
from data.errors import DatasetError
from data.generate.dogs import generate_dogs
from data.image_folder import ImageFolderDataModule
from data.stanford_dogs import StanfordDogsDataModule

from conftest import TINY_DOGS, TINY_SSD

TINY = {"num_classes": 3, "train_per_class": 6, "test_per_class": 3, "image_size": 40}


@pytest.fixture(scope="module")
def dogs_root(tmp_path_factory) -> Path:
    return generate_dogs(tmp_path_factory.mktemp("dogs") / "root", TINY)


def dogs(root, **kw) -> StanfordDogsDataModule:
    kw = {"image_size": 32, "batch_size": 4, "num_workers": 0, "val_fraction": 0.34, **kw}
    dm = StanfordDogsDataModule(root=str(root), **kw)
    dm.setup("fit")
    return dm


def photos(root: Path, sizes: list[tuple[int, int]]) -> Path:
    """One class folder of random photos of the given (width, height) sizes."""
    rng = np.random.default_rng(0)
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "ab"[i % 2] / f"{i}.png")
    return root


# ------------------------------------------------------------------------------- same images as streaming
@pytest.mark.parametrize("crop_to_box", [False, True])
def test_cached_evaluation_batches_equal_the_streaming_ones(dogs_root, crop_to_box):
    cached, streaming = dogs(dogs_root, crop_to_box=crop_to_box), dogs(dogs_root, crop_to_box=crop_to_box,
                                                                         decode_cache_gb=0)
    assert cached.cached and not streaming.cached
    assert isinstance(streaming.datasets["val"], ImageClassificationDataset)
    for split in ("val", "test"):
        assert cached.datasets[split].samples == streaming.datasets[split].samples
        loaders = zip(getattr(cached, f"{split}_dataloader")(), getattr(streaming, f"{split}_dataloader")())
        for (images, labels), (expected, expected_labels) in loaders:
            assert images.shape == expected.shape == (len(labels), 3, 32, 32)
            assert torch.equal(labels, expected_labels)
            torch.testing.assert_close(images, expected, atol=1e-5, rtol=0)


def test_cached_training_images_are_the_decoded_files(dogs_root, tmp_path):
    """Before augmentation: the decoded file itself, or resized to cache_short_side when larger (never enlarged)."""
    dm = dogs(dogs_root, image_size=32)  # default short side 8/7 x 32 = 37 < 40: shrunk
    assert dm.cache_short_side == 37
    dataset = dm.datasets["train"]
    for i in range(3):
        original = TF.pil_to_tensor(load_rgb(dataset.samples[i][0]))
        assert torch.equal(dataset[i][0], TF.resize(original, [37], antialias=True))
        assert dataset[i][1] == dataset.samples[i][1]
    big = dogs(dogs_root, image_size=48).datasets["train"]  # 8/7 x 48 = 55 > 40: the file as it is
    assert torch.equal(big[0][0], TF.pil_to_tensor(load_rgb(big.samples[0][0])))


def test_cached_coco_matches_streaming_for_evaluation_and_fixed_size_training(tmp_path):
    root = boxes_dataset(tmp_path)
    kw = dict(root=str(root), batch_size=3, num_workers=0, augment="none", train_size=48)
    cached, streaming = COCODataModule(**kw), COCODataModule(**kw, decode_cache_gb=0)
    cached.setup("fit"), streaming.setup("fit")
    assert cached.cached and not streaming.cached
    for (images, targets), (expected, expected_targets) in zip(cached.val_dataloader(),
                                                               streaming.val_dataloader()):
        for image, target, other, other_target in zip(images, targets, expected, expected_targets):
            torch.testing.assert_close(image, other, atol=1e-6, rtol=0)  # original size, [0, 1]
            assert target["image_id"] == other_target["image_id"] and target["orig_size"] == other_target["orig_size"]
            assert torch.equal(target["labels"], other_target["labels"])
            torch.testing.assert_close(target["boxes"], other_target["boxes"])
    train = cached.datasets["train"]
    for i in range(len(train)):
        image, target = train[i]
        expected_image, expected = streaming.datasets["train"][i]  # resized to 48 x 48, no augmentation
        torch.testing.assert_close(image.float().div(255), expected_image, atol=1e-6, rtol=0)
        assert torch.equal(target["labels"], expected["labels"])
        torch.testing.assert_close(target["boxes"], expected["boxes"], atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------------- batched augmentation
def test_random_resized_crop_draws_like_torchvision():
    torch.manual_seed(0)
    sizes = torch.tensor([[100, 150]]).repeat(4000, 1)
    ours = random_resized_crop_boxes(sizes, scale=(0.35, 1.0))
    left, top, w, h = ours.unbind(1)
    assert (left >= 0).all() and (top >= 0).all() and (left + w <= 150).all() and (top + h <= 100).all()
    reference = torch.tensor([v2.RandomResizedCrop.get_params(torch.empty(3, 100, 150), [0.35, 1.0],
                                                              [3 / 4, 4 / 3]) for _ in range(4000)]).float()
    ref_top, ref_left, ref_h, ref_w = reference.unbind(1)
    for a, b in ((w * h, ref_w * ref_h), (torch.log(w / h), torch.log(ref_w / ref_h)), (left, ref_left),
                 (top, ref_top)):
        assert abs(a.mean() - b.mean()) < 0.1 * b.std()  # 4000 draws: 4.5 standard errors
        assert abs(a.std() - b.std()) < 0.1 * b.std()


@pytest.mark.parametrize("size,expected", [((10, 200), [93, 0, 13, 10]), ((200, 10), [0, 93, 10, 13])])
def test_random_resized_crop_falls_back_like_torchvision(size, expected):
    """Where no draw fits (a wide or a tall strip, crops of 90-100 % of its area), the central crop cut to the
    nearest allowed aspect ratio (4:3 or 3:4)."""
    ours = random_resized_crop_boxes(torch.tensor([size]), scale=(0.9, 1.0))
    top, left, h, w = v2.RandomResizedCrop.get_params(torch.empty(3, *size), [0.9, 1.0], [3 / 4, 4 / 3])
    assert ours[0].tolist() == [left, top, w, h] == expected


def test_augmentation_streams_differ_by_rank_and_repeat_by_seed():
    """DDP ranks draw different augmentation (as the streaming workers, seeded per rank, do); a seed repeats."""
    sizes = torch.tensor([[100, 120]] * 8)
    draws = {(seed, rank): random_resized_crop_boxes(sizes, (0.35, 1.0), generator=augment_generator(seed, rank))
             for seed in (0, 1) for rank in (0, 1)}
    assert not torch.equal(draws[0, 0], draws[0, 1]) and not torch.equal(draws[0, 0], draws[1, 0])
    assert torch.equal(draws[0, 1], random_resized_crop_boxes(sizes, (0.35, 1.0), generator=augment_generator(0, 1)))


def test_crop_resize_is_identity_flip_and_bilinear_resize():
    images = torch.rand(3, 3, 20, 30)
    whole = torch.tensor([[0, 0, 30, 20]] * 3, dtype=torch.float32)
    out = crop_resize(images[:, :, :, :20], torch.tensor([[0, 0, 20, 20]] * 3, dtype=torch.float32), 20)
    torch.testing.assert_close(out, images[:, :, :, :20])
    flip = torch.tensor([True, False, True])
    out = crop_resize(images[:, :, :, :20], torch.tensor([[0, 0, 20, 20]] * 3, dtype=torch.float32), 20, flip)
    torch.testing.assert_close(out[0], images[0, :, :, :20].flip(-1))
    torch.testing.assert_close(out[1], images[1, :, :, :20])
    # a crop resized up and one resized down: torchvision's bilinear resized_crop (inside the border pixels,
    # where torchvision clamps to the crop and grid_sample reads the image's next pixel)
    crops = torch.tensor([[4, 3, 10, 12], [2, 1, 26, 18], [0, 0, 30, 20]], dtype=torch.float32)
    out = crop_resize(images, crops, 16)
    assert out.shape == (3, 3, 16, 16)
    for image, (left, top, w, h), result in zip(images, crops.int().tolist(), out):
        expected = TF.resized_crop(image, top, left, h, w, [16, 16], antialias=False)
        torch.testing.assert_close(result[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-5, rtol=0)
    torch.testing.assert_close(crop_resize(images, whole, 20)[:, :, 1:-1, 1:-1],
                               TF.resize(images, [20, 20], antialias=False)[:, :, 1:-1, 1:-1], atol=1e-5, rtol=0)


def test_color_matrix_equals_torchvisions_three_adjustments():
    images = 0.3 + 0.4 * torch.rand(4, 3, 8, 8)  # mid-range: no intermediate clipping
    b, c, s = torch.tensor([0.8, 1.2, 1.0, 0.9]), torch.tensor([1.1, 0.85, 1.0, 1.15]), torch.tensor(
        [0.9, 1.15, 1.0, 0.8])
    out = adjust_colors(images, b, c, s)
    for i in range(4):
        expected = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(images[i], float(b[i])),
                                                           float(c[i])), float(s[i]))
        torch.testing.assert_close(out[i], expected, atol=1e-5, rtol=0)
        # the order does not matter (without clipping)
        other = TF.adjust_brightness(TF.adjust_contrast(TF.adjust_saturation(images[i], float(s[i])),
                                                        float(c[i])), float(b[i]))
        torch.testing.assert_close(out[i], other, atol=1e-5, rtol=0)


def test_classification_augment_without_crop_or_jitter_gives_the_image_or_its_mirror():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 24, 24), dtype=torch.uint8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    augment = ClassificationAugment(24, min_crop_scale=1.0, color_jitter=0.0, mean=mean, std=std)
    out = augment(images, torch.tensor([[24, 24]] * 16))
    normalised = TF.normalize(images.float() / 255, mean, std)
    mirrored = [torch.allclose(o, n.flip(-1), atol=1e-4) for o, n in zip(out, normalised)]
    same = [torch.allclose(o, n, atol=1e-4) for o, n in zip(out, normalised)]
    assert all(m or s for m, s in zip(mirrored, same)) and 3 <= sum(mirrored) <= 13


def test_classification_augment_jitter_and_normalisation_are_torchvisions(monkeypatch):
    """The colour matrix and the normalisation against torchvision's adjust_brightness, adjust_contrast,
    adjust_saturation and normalize, with the same factors (mid-range pixels: nothing clipped)."""
    import data.batch_augment as batch_augment
    factors = (torch.tensor([0.85, 1.1, 1.0, 1.2]), torch.tensor([1.15, 0.9, 0.8, 1.0]),
               torch.tensor([0.9, 1.2, 1.05, 0.8]))
    monkeypatch.setattr(batch_augment, "jitter_factors", lambda count, *j: factors)
    images = torch.randint(90, 160, (4, 3, 20, 20), dtype=torch.uint8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    out = ClassificationAugment(20, min_crop_scale=1.0, color_jitter=0.2, mean=mean, std=std)(
        images, torch.tensor([[20, 20]] * 4))
    for i, (b, c, s) in enumerate(zip(*factors)):
        x = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(images[i].float() / 255, float(b)),
                                                    float(c)), float(s))
        expected = TF.normalize(x, mean, std)
        assert (torch.allclose(out[i], expected, atol=1e-4) or torch.allclose(out[i], expected.flip(-1), atol=1e-4))
    # the clamp is torchvision's [0, 1], in normalised units per channel
    bright = ClassificationAugment(20, min_crop_scale=1.0, color_jitter=0.0, mean=mean, std=std)(
        torch.full((1, 3, 20, 20), 255, dtype=torch.uint8), torch.tensor([[20, 20]]))
    torch.testing.assert_close(bright[0, :, 0, 0], (1 - torch.tensor(mean)) / torch.tensor(std))


def test_padded_batch_of_different_sizes(tmp_path):
    root = photos(tmp_path / "p", [(30, 20), (16, 24), (25, 25)])
    paths = sorted(root.rglob("*.png"))
    store = decoded_images(paths, "sizes", {}, lambda i: TF.pil_to_tensor(load_rgb(paths[i])), cache_dir=tmp_path)
    images, sizes = store.batch([0, 1, 2])
    assert images.shape == (3, 3, 25, 30) and images.dtype == torch.uint8
    for b, path in enumerate(paths):
        original = TF.pil_to_tensor(load_rgb(path))
        h, w = original.shape[1:]
        assert sizes[b].tolist() == [h, w] and torch.equal(images[b, :, :h, :w], original)
        assert (images[b, :, :h, w:] == original[:, :, -1:]).all()  # last column repeated into the padding
        assert (images[b, :, h:, :] == images[b, :, h - 1: h, :]).all()


# ----------------------------------------------------------------------------------------- boxes follow
def boxes_dataset(root: Path, count: int = 6) -> Path:
    """A COCO dataset whose images are black with a white rectangle exactly at every box: a box's pixels are its
    object's mask, so any transform can be checked by looking at the image."""
    rng = np.random.default_rng(3)
    images, annotations = [], []
    for split in ("train2017", "val2017"):
        (root / split).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        w, h = int(rng.integers(60, 90)), int(rng.integers(50, 80))
        pixels = np.zeros((h, w, 3), np.uint8)
        images.append({"id": index + 1, "file_name": f"{index}.png", "width": w, "height": h})
        for k in range(int(rng.integers(1, 3))):
            bw, bh = int(rng.integers(10, w // 2)), int(rng.integers(10, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            pixels[y: y + bh, x: x + bw] = 255
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": 3 + k,
                                "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": 0})
        for split in ("train2017", "val2017"):
            Image.fromarray(pixels).save(root / split / f"{index}.png")
    data = {"images": images, "annotations": annotations,
            "categories": [{"id": 3, "name": "a"}, {"id": 4, "name": "b"}]}
    (root / "annotations").mkdir(exist_ok=True)
    for split in ("train2017", "val2017"):
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    return root


def test_batched_flip_keeps_boxes_on_their_objects(tmp_path):
    root = boxes_dataset(tmp_path)
    dm = COCODataModule(root=str(root), batch_size=6, num_workers=0, augment="flip", train_size=48)
    dm.setup("fit")
    torch.manual_seed(1)
    flipped_any = False
    for raw in dm.train_dataloader():
        assert isinstance(raw, UInt8Batch) and raw.images.dtype == torch.uint8
        images, targets = dm.on_after_batch_transfer(raw, 0)
        assert images.shape == (6, 3, 48, 48) and images.dtype == torch.float32
        for image, target, before in zip(images, targets, raw.targets):
            mask = image[0] > 0.5
            inside = torch.zeros_like(mask)
            for x0, y0, x1, y1 in target["boxes"].round().int().tolist():
                assert image[0, y0 + 1: y1 - 1, x0 + 1: x1 - 1].min() > 0.5  # the box is on its object
                inside[y0: y1, x0: x1] = True
            assert not (mask & ~inside).any()  # and every object pixel is in a box
            flipped_any |= not torch.equal(target["boxes"], before["boxes"])
    assert flipped_any


def test_flip_detection_batch_by_hand():
    images = torch.zeros(2, 3, 10, 20)
    images[:, :, 2:5, 1:4] = 1
    targets = [{"boxes": torch.tensor([[1.0, 2.0, 4.0, 5.0]]), "labels": torch.tensor([1])} for _ in range(2)]
    out, boxes = flip_detection_batch(images, targets, p=1.0)
    assert boxes[0]["boxes"].tolist() == [[16.0, 2.0, 19.0, 5.0]] and boxes[1]["labels"].tolist() == [1]
    assert out[:, :, 2:5, 16:19].min() == 1 and out.sum() == images.sum()
    same, kept = flip_detection_batch(images, targets, p=0.0)
    assert same is images and kept is targets


# ------------------------------------------------------------------------------------ keys and safety
def test_store_is_rebuilt_when_a_file_or_setting_changes(tmp_path):
    root = photos(tmp_path / "p", [(12, 10)] * 3)
    paths = sorted(root.rglob("*.png"))
    prepare = lambda i: TF.pil_to_tensor(load_rgb(paths[i]))  # noqa: E731
    first = decoded_images(paths, "photos", {"size": None}, prepare, cache_dir=tmp_path / "c")
    assert torch.equal(first.tensor(1), TF.pil_to_tensor(load_rgb(paths[1])))
    assert decoded_images(paths, "photos", {"size": None}, prepare, cache_dir=tmp_path / "c").folder == first.folder
    Image.new("RGB", (14, 9), (1, 2, 3)).save(paths[1])  # edited: new size and mtime
    stat = os.stat(paths[1])
    os.utime(paths[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    again = decoded_images(paths, "photos", {"size": None}, prepare, cache_dir=tmp_path / "c")
    assert again.folder != first.folder and again.sizes[1].tolist() == [9, 14]
    assert again.image(1)[0, 0].tolist() == [1, 2, 3]
    other = decoded_images(paths, "photos", {"size": 8}, prepare, cache_dir=tmp_path / "c")
    fewer = decoded_images(paths[:2], "photos", {"size": None}, prepare, cache_dir=tmp_path / "c")
    assert len({first.folder, again.folder, other.folder, fewer.folder}) == 4 and len(fewer) == 2


def test_data_module_settings_and_lists_key_the_store(dogs_root, tmp_path):
    small, large = dogs(dogs_root, image_size=32), dogs(dogs_root, image_size=48)
    assert small.datasets["train"].store.folder != large.datasets["train"].store.folder
    assert small.datasets["val"].store.folder != large.datasets["val"].store.folder
    reseeded = dogs(dogs_root, image_size=32, seed=1)  # another validation split: other lists, other stores
    assert reseeded.datasets["train"].store.folder != small.datasets["train"].store.folder
    assert reseeded.datasets["test"].store.folder == small.datasets["test"].store.folder  # the same test list
    root = photos(tmp_path / "p", [(20, 16)] * 10)
    folder = ImageFolderDataModule(root=str(root), image_size=16, num_workers=0, test_fraction=0.0)
    folder.setup("fit")  # validation = test: one store
    assert folder.datasets["val"].store.folder == folder.datasets["test"].store.folder
    folder = ImageFolderDataModule(root=str(root), image_size=16, num_workers=0)
    folder.setup("fit")  # a held-out test split: a store of its own
    assert folder.datasets["val"].store.folder != folder.datasets["test"].store.folder


def test_store_pickles_as_its_folder(tmp_path):
    """Spawned DataLoader workers get the folder and map the file themselves, not a copy of the pixels."""
    import pickle
    root = photos(tmp_path / "p", [(64, 48)] * 4)
    paths = sorted(root.rglob("*.png"))
    store = decoded_images(paths, "photos", {}, lambda i: TF.pil_to_tensor(load_rgb(paths[i])),
                           cache_dir=tmp_path / "c")
    data = pickle.dumps(store)
    assert len(data) < 1000 < store.pixels.size
    assert torch.equal(pickle.loads(data).batch([2, 0])[0], store.batch([2, 0])[0])


def test_failed_build_names_the_file_and_leaves_nothing_complete(tmp_path):
    root = photos(tmp_path / "p", [(12, 10)] * 4)
    paths = sorted(root.rglob("*.png"))
    paths[2].write_bytes(b"not a png")
    prepare = lambda i: TF.pil_to_tensor(load_rgb(paths[i]))  # noqa: E731
    with pytest.raises(DatasetError, match=f"cannot read image {paths[2]}"):
        decoded_images(paths, "photos", {}, prepare, cache_dir=tmp_path / "c")
    folder = tmp_path / "c" / "decoded"
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".lock")] == []  # no store, no temp folder

    def interrupted(i):
        if i == 1:
            raise KeyboardInterrupt
        return prepare(i)
    with pytest.raises(KeyboardInterrupt):
        decoded_images(paths[:2], "photos", {}, interrupted, cache_dir=tmp_path / "c")
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".lock")] == []
    store = decoded_images(paths[:2], "photos", {}, prepare, cache_dir=tmp_path / "c")
    assert len(store) == 2 and is_complete(store.folder, json.loads((store.folder / ".complete.json").read_text()))


def test_corrupt_image_fails_the_setup_naming_it(dogs_root, tmp_path, monkeypatch):
    import os
    import shutil
    root = Path(shutil.copytree(dogs_root, tmp_path / "dogs"))
    bad = sorted((root / "Images").rglob("*.jpg"))[4]
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(DatasetError, match=f"cannot read image {bad}"):
        dogs(root, bad_images="error")  # found when the files are screened
    assert str(bad) in dogs(root).skipped_images  # the default leaves it out (tests/test_images.py)
    monkeypatch.setattr("data.images.image_problem", lambda path: None)  # a file the screening would miss ...
    os.utime(bad, ns=(1, 1))  # (a new fingerprint: screened again)
    with pytest.raises(DatasetError, match=f"cannot read image {bad}"):
        dogs(root)  # ... stops the build that decodes it, named


def test_over_budget_streams_with_a_log_line(tmp_path, caplog):
    root = photos(tmp_path / "p", [(40, 30)] * 10)
    with caplog.at_level(logging.INFO, logger="data.decoded"):
        dm = ImageFolderDataModule(root=str(root), image_size=16, batch_size=4, num_workers=0, decode_cache_gb=1e-6)
        dm.setup("fit")
    assert not dm.cached and isinstance(dm.datasets["train"], ImageClassificationDataset)
    assert "more than data.decode_cache_gb=1e-06: streaming from disk" in caplog.text
    images, _ = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 16, 16)
    dm = ImageFolderDataModule(root=str(root), image_size=16, batch_size=4, num_workers=0)
    dm.setup("fit")
    assert dm.cached and isinstance(dm.datasets["train"], CachedClassificationDataset)
    images, _ = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (4, 3, 16, 16) and images.dtype == torch.float32


# --------------------------------------------------------------------------------------------- benchmark
def test_throughput_benchmark_runs_on_tiny_datasets(capsys):
    from benchmarks.train_throughput import main
    tiny_dogs = [o for o in TINY_DOGS if not o.startswith(("task=", "trainer.max_epochs", "latency"))]
    rows = main(["--tasks", "dogs", "--steps", "2", "--warmup", "1", "--rounds", "1", "--override", *tiny_dogs])
    rows += main(["--tasks", "ssd", "--pipelines", "cached", "--steps", "2", "--warmup", "1", "--rounds", "1",
                  "--override", *[o for o in TINY_SSD if not o.startswith("task=")]])
    assert [(r["task"], r["pipeline"]) for r in rows] == [("dogs", "cached"), ("dogs", "streaming"),
                                                          ("ssd", "cached")]
    for row in rows:
        assert row["data"] > 0 and row["step"] > 0 and row["loop"] > 0
        assert row["ratio"] == pytest.approx(row["loop"] / row["step"])
    assert "| dogs | streaming | 16 |" in capsys.readouterr().out
