"""Stanford Dogs reader and ImageFolder module on generated fixtures in the real formats, and their errors."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from data.errors import DatasetError
from data.generate.dogs import generate_dogs, resolve_params
from data.image_folder import ImageFolderDataModule
from data.stanford_dogs import StanfordDogsDataModule, read_list

TINY = {"num_classes": 3, "train_per_class": 6, "test_per_class": 3, "image_size": 40}


@pytest.fixture(scope="module")
def dogs_root(tmp_path_factory) -> Path:
    return generate_dogs(tmp_path_factory.mktemp("dogs") / "root", TINY)


@pytest.fixture
def dogs_copy(dogs_root, tmp_path) -> Path:
    """A private copy to damage."""
    return Path(shutil.copytree(dogs_root, tmp_path / "dogs"))


def module(root, **kw) -> StanfordDogsDataModule:
    return StanfordDogsDataModule(root=str(root), image_size=32, batch_size=4, num_workers=0, **kw)


def test_generated_layout_is_the_real_one(dogs_root):
    mat = scipy.io.loadmat(dogs_root / "lists" / "train_list.mat")
    assert set(mat) >= {"file_list", "annotation_list", "labels"}
    assert mat["labels"].shape == (18, 1) and mat["labels"].min() == 1 and mat["labels"].max() == 3
    files, labels = read_list(dogs_root / "lists" / "train_list.mat")
    first = dogs_root / "Images" / files[0]
    assert first.is_file() and first.parent.name.startswith("n9") and "-" in first.parent.name
    assert Image.open(first).size == (40, 40)
    assert (dogs_root / "Annotation" / Path(files[0]).with_suffix("")).is_file()


def test_generation_is_deterministic(dogs_root, tmp_path):
    again = generate_dogs(tmp_path / "again", TINY)
    for path in sorted((dogs_root / "Images").rglob("*.jpg"))[:5]:
        assert path.read_bytes() == (again / path.relative_to(dogs_root)).read_bytes()


def test_unknown_generator_parameter():
    with pytest.raises(KeyError, match="num_clases"):
        resolve_params({"num_clases": 3})


def test_splits_labels_and_batches(dogs_root):
    dm = module(dogs_root, val_fraction=0.34)
    assert dm.num_classes == 3 and all("_ears_" in n for n in dm.class_names)
    dm.setup("fit")
    sizes = {k: len(v) for k, v in dm.datasets.items()}
    assert sizes == {"train": 12, "val": 6, "test": 9}
    train = set(dm.datasets["train"].samples)
    assert not train & set(dm.datasets["val"].samples)  # validation is held out of training
    images, labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)  # cached: augments here
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and set(labels.tolist()) <= {0, 1, 2}
    val_labels = [label for _, label in dm.datasets["val"].samples]
    assert sorted(np.bincount(val_labels).tolist()) == [2, 2, 2]  # stratified


def test_labels_follow_the_list_files(dogs_root):
    dm = module(dogs_root, val_fraction=0.0)
    dm.setup()
    files, labels = read_list(dogs_root / "lists" / "test_list.mat")
    for (path, label), file, expected in zip(dm.datasets["test"].samples, files, labels):
        assert path == dogs_root / "Images" / file and label == expected
        assert dm.class_names[label] == path.parent.name.split("-", 1)[1]


def test_crop_to_box_crops_to_the_voc_box(dogs_root):
    """(The cached pipeline stores the same crops: tests/test_decoded_cache.py.)"""
    dm = module(dogs_root, crop_to_box=True, val_fraction=0.0, decode_cache_gb=0)
    dm.setup()
    dataset = dm.datasets["test"]
    dataset.transform = None
    image, _ = dataset[0]
    left, top, right, bottom = dataset.boxes[0]
    assert image.size == (right - left, bottom - top) and image.size != (40, 40)


def test_missing_root_names_it(tmp_path):
    with pytest.raises(DatasetError, match=f"root not found: {tmp_path / 'nope'}.*data.root=null"):
        module(tmp_path / "nope")


def test_missing_list_file(dogs_copy):
    (dogs_copy / "lists" / "test_list.mat").unlink()
    with pytest.raises(DatasetError, match="list file not found: .*test_list.mat"):
        module(dogs_copy)


def test_list_entry_pointing_at_missing_file(dogs_copy):
    files, _ = read_list(dogs_copy / "lists" / "train_list.mat")
    (dogs_copy / "Images" / files[3]).unlink()
    dm = module(dogs_copy)
    with pytest.raises(DatasetError, match=f"train_list.mat entry '{files[3]}' points at a missing file"):
        dm.setup()


@pytest.mark.parametrize("decode_cache_gb", [8.0, 0.0])  # found when the cache is built / when loaded
@pytest.mark.parametrize("damage", ["truncated", "not_an_image"])
def test_unreadable_image_names_the_file(dogs_copy, damage, decode_cache_gb):
    files, _ = read_list(dogs_copy / "lists" / "test_list.mat")
    path = dogs_copy / "Images" / files[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"hello, not a jpeg")
    dm = module(dogs_copy, val_fraction=0.0, decode_cache_gb=decode_cache_gb, bad_images="error")
    with pytest.raises(DatasetError, match=f"cannot read image {path}"):
        dm.setup()
        next(iter(dm.test_dataloader()))


@pytest.mark.parametrize("decode_cache_gb", [8.0, 0.0])
def test_unreadable_images_are_left_out_by_default(dogs_copy, decode_cache_gb, caplog):
    files, labels = read_list(dogs_copy / "lists" / "train_list.mat")
    test_files, _ = read_list(dogs_copy / "lists" / "test_list.mat")
    bad = [dogs_copy / "Images" / files[2], dogs_copy / "Images" / test_files[1]]
    bad[0].write_bytes(b"")
    bad[1].write_bytes(bad[1].read_bytes()[:200])
    dm = module(dogs_copy, decode_cache_gb=decode_cache_gb)
    with caplog.at_level(logging.WARNING):
        dm.setup()
    assert sorted(dm.skipped_images) == sorted(map(str, bad)) and "left out 2 unreadable image(s)" in caplog.text
    assert len(dm.datasets["train"]) + len(dm.datasets["val"]) == 17 and len(dm.datasets["test"]) == 8
    label_of = {dogs_copy / "Images" / f: label for f, label in zip(files, labels)}
    for dataset in dm.datasets.values():
        assert not set(bad) & {p for p, _ in dataset.samples}
        for path, label in dataset.samples[:6]:
            if path in label_of:
                assert label == label_of[path]
    for images, _ in dm.test_dataloader():
        pass


def test_metrics_split(dogs_root):
    dm = module(dogs_root)
    dm.setup()
    assert dm.metrics_split == "test"
    dm = module(dogs_root, val_fraction=0.0)
    dm.setup()
    assert dm.metrics_split == ("val (data.val_fraction=0 validates on the test list; the checkpoint was also "
                                "selected on it)")


def test_missing_annotation_with_crop_to_box(dogs_copy):
    shutil.rmtree(dogs_copy / "Annotation")
    with pytest.raises(DatasetError, match="annotation file not found.*crop_to_box=false"):
        module(dogs_copy, crop_to_box=True).setup()


def make_folder(root: Path, classes: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_image_folder_split_by_fraction(tmp_path):
    root = make_folder(tmp_path / "photos", {"cat": 10, "dog": 5})
    dm = ImageFolderDataModule(root=str(root), val_fraction=0.2, test_fraction=0.2, image_size=16, batch_size=4,
                               num_workers=0)
    assert dm.class_names == ["cat", "dog"] and dm.num_classes == 2
    dm.setup()
    assert {k: len(v) for k, v in dm.datasets.items()} == {"train": 9, "val": 3, "test": 3}
    assert not {p for p, _ in dm.datasets["val"].samples} & {p for p, _ in dm.datasets["test"].samples}
    assert dm.metrics_split == "test"
    images, labels = next(iter(dm.val_dataloader()))
    assert images.shape == (3, 3, 16, 16)


def test_image_folder_train_and_val_dirs(tmp_path):
    train = make_folder(tmp_path / "train", {"a": 3, "b": 3})
    val = make_folder(tmp_path / "val", {"a": 1, "b": 2})
    dm = ImageFolderDataModule(train_dir=str(train), val_dir=str(val), image_size=16, num_workers=0)
    dm.setup()
    assert len(dm.datasets["train"]) == 6 and len(dm.datasets["val"]) == 3
    other = make_folder(tmp_path / "other", {"a": 1, "c": 1})
    with pytest.raises(DatasetError, match="val_dir classes"):
        ImageFolderDataModule(train_dir=str(train), val_dir=str(other))


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="data.root: folder not found"):
        ImageFolderDataModule(root=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="data.root="):
        ImageFolderDataModule(root=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="either data.root"):
        ImageFolderDataModule()
