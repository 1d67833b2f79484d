"""The one image reader (data.images) and the readers built on it: EXIF orientation and 16-bit images in every data
module, the decoded cache and predict.py; unreadable files left out (`bad_images=skip`, labels kept aligned) or
refused (`error`); where each module's test metrics come from (`metrics_split`); the log lines of the embedded
defaults' generation and of pretrained weights."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from data.attributes import AttributesDataModule
from data.errors import DatasetError
from data.geo import GeoDataModule
from data.identities import IdentityDataModule
from data.image_folder import ImageFolderDataModule
from data.images import displayed_size, image_problem, load_rgb, to_rgb, unreadable_images

JPEG_TOLERANCE = 6.0  # mean absolute difference (0..255) between a JPEG and the pixels it was saved from
STORED_FOR = {6: 1, 8: -1}  # EXIF orientation -> np.rot90 k that stores an upright picture so the tag shows it upright


def upright(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A non-square picture whose orientation is unmistakable: a bright block top-left, a gradient."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 200, width, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(0, 200, height, dtype=np.uint8)[:, None]
    image[..., 2] = rng.integers(60, 90)
    image[: height // 4, : width // 3] = 255
    return image


def save_jpeg(path: Path, pixels: np.ndarray, orientation: int = 1) -> Path:
    """`pixels` (upright) saved as a JPEG that displays them upright: stored turned, with the EXIF tag, for 6 and 8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.ascontiguousarray(np.rot90(pixels, STORED_FOR.get(orientation, 0))))
    exif = image.getexif()
    if orientation != 1:
        exif[0x0112] = orientation
    image.save(path, quality=95, exif=exif.tobytes())
    return path


def close(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return a.shape == b.shape and float(np.abs(a - b).mean()) < JPEG_TOLERANCE


def gradient16() -> np.ndarray:
    return np.linspace(0, 65535, 16 * 256).round().astype(np.uint16).reshape(16, 256)


def expected8(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64) / 257).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- the reader
@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_is_applied(tmp_path, orientation):
    pixels = upright()
    path = save_jpeg(tmp_path / "phone.jpg", pixels, orientation)
    with Image.open(path) as raw:
        assert raw.size == (48, 64)  # stored sideways
    assert displayed_size(path) == (64, 48)
    assert close(load_rgb(path), pixels)
    assert close(load_rgb(path, orient=False), np.rot90(pixels, STORED_FOR[orientation]))


def test_sixteen_bit_png_is_scaled_not_white(tmp_path):
    values = gradient16()
    Image.fromarray(values).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as raw:
        assert raw.mode.startswith("I")
    decoded = np.asarray(load_rgb(tmp_path / "g16.png"))
    assert decoded.shape == (16, 256, 3) and (decoded == expected8(values)[..., None]).all()
    big_endian = Image.frombytes("I;16B", (256, 16), values.astype(">u2").tobytes())
    assert (np.asarray(to_rgb(big_endian))[..., 0] == expected8(values)).all()
    assert (np.asarray(to_rgb(Image.fromarray(values.astype(np.int32), "I")))[..., 1] == expected8(values)).all()


def test_other_modes_convert_to_rgb(tmp_path):
    pixels = upright()
    for mode in ("P", "L", "LA", "RGBA", "CMYK", "1"):
        image = to_rgb(Image.fromarray(pixels).convert(mode))
        assert image.mode == "RGB" and image.size == (64, 48)
    rgba = Image.fromarray(np.dstack([pixels, np.full(pixels.shape[:2], 7, np.uint8)]), "RGBA")
    assert (np.asarray(to_rgb(rgba)) == pixels).all()  # alpha dropped, as torchvision's and OpenCV's loaders do
    palette = Image.fromarray(pixels).convert("P")
    palette.info["transparency"] = 0
    palette.save(tmp_path / "p.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL warns when such a palette goes to RGB directly
        assert load_rgb(tmp_path / "p.png").mode == "RGB"


def bad_files(folder: Path) -> list[Path]:
    """A zero-byte, a truncated and a non-image file, named like JPEGs."""
    folder.mkdir(parents=True, exist_ok=True)
    save_jpeg(folder / "good.jpg", upright())
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes((folder / "good.jpg").read_bytes()[:400])
    (folder / "text.jpg").write_bytes(b"<html>not found</html>")
    return [folder / "empty.jpg", folder / "truncated.jpg", folder / "text.jpg"]


def test_bad_files_are_found_and_good_ones_kept(tmp_path):
    bad = bad_files(tmp_path)
    trailing = tmp_path / "trailing.jpg"  # bytes after the end marker (some cameras): still an image
    trailing.write_bytes((tmp_path / "good.jpg").read_bytes() + b"maker notes")
    assert image_problem(tmp_path / "good.jpg") is None and image_problem(trailing) is None
    assert image_problem(bad[0]) == "empty file (0 bytes)"
    assert all(image_problem(p) for p in bad)
    paths = [tmp_path / "good.jpg", *bad, trailing]
    assert unreadable_images(paths, "skip", "x", cache_dir=tmp_path / "cache") == [str(p) for p in bad]
    with pytest.raises(DatasetError, match=r"cannot read image .*empty.jpg: empty file .*3 unreadable.*=skip"):
        unreadable_images(paths, "error", "x", cache_dir=tmp_path / "cache")


def test_many_bad_files_are_listed_up_to_ten(tmp_path, caplog):
    paths = []
    for i in range(12):
        (tmp_path / f"{i:02d}.jpg").write_bytes(b"")
        paths.append(tmp_path / f"{i:02d}.jpg")
    with caplog.at_level(logging.WARNING, logger="data.images"):
        assert len(unreadable_images(paths, "skip", "my photos", cache_dir=tmp_path / "cache")) == 12
    assert "left out 12 unreadable image(s) of my photos" in caplog.text
    assert "09.jpg, ..." in caplog.text and "10.jpg" not in caplog.text


# ---------------------------------------------------------------------------------- every reader, upright
def image_folder(root: Path, orientation: int) -> tuple[Path, np.ndarray]:
    """Two classes of upright JPEGs and, in class a, `turned.jpg` stored sideways with the EXIF tag."""
    for cls, seed in (("a", 1), ("b", 2)):
        for i in range(5):
            save_jpeg(root / cls / f"{i}.jpg", upright(seed=seed + 10 * i))
    pixels = upright(seed=99)
    save_jpeg(root / "a" / "turned.jpg", pixels, orientation)
    return root / "a" / "turned.jpg", pixels


def assert_upright_in(dm, path: Path, pixels: np.ndarray) -> None:
    """The sample of `path` reads upright: the decoded image (streaming) or the stored pixels (decoded cache)."""
    dm.setup()
    split, index = next((s, i) for s, ds in dm.datasets.items() for i, (p, _) in enumerate(ds.samples)
                        if Path(p) == path)
    dataset = dm.datasets[split]
    if dm.cached:
        expected = dm.prepare_for_cache(split)(Image.fromarray(pixels))
        assert close(dataset.store.tensor(index).permute(1, 2, 0), expected.permute(1, 2, 0))
    else:
        assert close(dataset.load(index), pixels)


@pytest.mark.parametrize("decode_cache_gb", [0.0, 8.0])
@pytest.mark.parametrize("orientation", [6, 8])
def test_image_folder_and_decoded_cache_read_upright(tmp_path, orientation, decode_cache_gb):
    path, pixels = image_folder(tmp_path / "photos", orientation)
    dm = ImageFolderDataModule(root=str(tmp_path / "photos"), image_size=32, num_workers=0,
                               decode_cache_gb=decode_cache_gb, cache_short_side=1000)  # stored at full size
    assert_upright_in(dm, path, pixels)


@pytest.mark.parametrize("orientation", [6, 8])
def test_attributes_geolocation_and_identities_read_upright(tmp_path, orientation):
    pixels = upright(seed=5)
    common = dict(image_size=16, batch_size=4, num_workers=0, decode_cache_gb=0)
    # attribute CSV
    for i in range(6):
        save_jpeg(tmp_path / "faces" / f"{i}.jpg", upright(seed=i))
    turned = save_jpeg(tmp_path / "faces" / "turned.jpg", pixels, orientation)
    (tmp_path / "faces" / "labels.csv").write_text(
        "image,Hat\n" + "".join(f"{i}.jpg,{i % 2}\n" for i in range(6)) + "turned.jpg,1\n")
    assert_upright_in(AttributesDataModule(csv=str(tmp_path / "faces" / "labels.csv"), **common), turned, pixels)
    # geotagged CSV
    rows = ["image,lat,lon"]
    for i in range(12):
        save_jpeg(tmp_path / "geo" / f"{i}.jpg", upright(seed=i))
        rows.append(f"{i}.jpg,{10 + i * 0.01},{20 + i * 0.01}")
    turned = save_jpeg(tmp_path / "geo" / "turned.jpg", pixels, orientation)
    (tmp_path / "geo" / "train.csv").write_text("\n".join([*rows, "turned.jpg,10.5,20.5"]) + "\n")
    geo = GeoDataModule(train_csv=str(tmp_path / "geo" / "train.csv"),
                        partitionings=[{"name": "fine", "t_min": 0, "t_max": 100}], **common)
    assert_upright_in(geo, turned, pixels)
    # identity folders (training) and LFW (test)
    dm, turned = identities(tmp_path / "ids", turned=(pixels, orientation))
    assert_upright_in(dm, turned, pixels)


def identities(root: Path, turned: tuple[np.ndarray, int] | None = None, bad: bool = False, **kwargs):
    """Four training identities of three images (the first one's last image turned, or unreadable), and an LFW
    folder of two people with its pairs file."""
    for n in range(4):
        for i in range(3):
            save_jpeg(root / "train" / f"id_{n}" / f"{i}.jpg", upright(seed=n * 10 + i))
    special = root / "train" / "id_0" / "2.jpg"
    if turned is not None:
        save_jpeg(special, turned[0], turned[1])
    if bad:
        special.write_bytes(b"")
    for name in ("Ann_A", "Bob_B"):
        for i in (1, 2):
            save_jpeg(root / "lfw" / name / f"{name}_{i:04d}.jpg", upright(seed=i))
    (root / "pairs.txt").write_text("1 1\nAnn_A 1 2\nAnn_A 1 Bob_B 2\n")
    dm = IdentityDataModule(root=str(root / "train"), val_identities=0.25, image_size=16, batch_size=4,
                            num_workers=0, decode_cache_gb=0, **kwargs)
    return dm, special


def test_predict_reads_paths_and_pil_images_as_the_datasets_do(tmp_path):
    from tasks.engine.predict import as_rgb
    pixels = upright()
    path = save_jpeg(tmp_path / "phone.jpg", pixels, 6)
    assert close(as_rgb(path), pixels) and close(as_rgb(str(path)), pixels)
    with Image.open(path) as opened:
        assert close(as_rgb(opened), pixels)
    values = gradient16()
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert (np.asarray(as_rgb(tmp_path / "g16.png"))[..., 0] == expected8(values)).all()
    with Image.open(tmp_path / "g16.png") as opened:
        assert (np.asarray(as_rgb(opened))[..., 2] == expected8(values)).all()


@pytest.mark.parametrize("decode_cache_gb", [0.0, 8.0])
def test_sixteen_bit_png_in_a_data_module(tmp_path, decode_cache_gb):
    for cls in "ab":
        for i in range(4):
            save_jpeg(tmp_path / "photos" / cls / f"{i}.jpg", upright(seed=i))
    values = gradient16()[:, ::8]  # 16 x 32
    Image.fromarray(values).save(tmp_path / "photos" / "a" / "deep.png")
    dm = ImageFolderDataModule(root=str(tmp_path / "photos"), image_size=16, num_workers=0,
                               decode_cache_gb=decode_cache_gb, cache_short_side=1000)
    dm.setup()
    split, index = next((s, i) for s, ds in dm.datasets.items() for i, (p, _) in enumerate(ds.samples)
                        if p.name == "deep.png")
    dataset = dm.datasets[split]
    if dm.cached and split == "train":
        assert (dataset.store.tensor(index)[0].numpy() == expected8(values)).all()
    elif dm.cached:
        assert torch.equal(dataset.store.tensor(index),
                           dm.prepare_for_cache(split)(Image.fromarray(expected8(values)).convert("RGB")))
    else:
        assert (np.asarray(dataset.load(index))[..., 1] == expected8(values)).all()


# ----------------------------------------------------------------------------------------- bad_images
def photo_folder(root: Path, per_class: int = 6) -> list[Path]:
    """Classes a and b of distinct upright JPEGs, and the three kinds of bad file in a and b."""
    for cls, offset in (("a", 0), ("b", 100)):
        for i in range(per_class):
            save_jpeg(root / cls / f"{i}.jpg", upright(seed=offset + i))
    bad = [root / "a" / "empty.jpg", root / "b" / "truncated.jpg", root / "b" / "text.jpg"]
    bad[0].write_bytes(b"")
    bad[1].write_bytes((root / "b" / "0.jpg").read_bytes()[:400])
    bad[2].write_bytes(b"not an image")
    return bad


@pytest.mark.parametrize("decode_cache_gb", [0.0, 8.0])
def test_image_folder_skips_bad_images_keeping_labels_aligned(tmp_path, decode_cache_gb, caplog):
    bad = photo_folder(tmp_path / "photos")
    dm = ImageFolderDataModule(root=str(tmp_path / "photos"), image_size=16, num_workers=0, batch_size=4,
                               decode_cache_gb=decode_cache_gb, cache_short_side=1000)
    assert dm.skipped_images == []
    with caplog.at_level(logging.WARNING):
        dm.setup()
    assert sorted(dm.skipped_images) == sorted(map(str, bad))
    assert "left out 3 unreadable image(s)" in caplog.text and "truncated.jpg" in caplog.text
    samples = [s for ds in dm.datasets.values() for s in ds.samples]
    assert len({p for p, _ in samples}) == 12 and not {p for p, _ in samples} & set(bad)
    for split, dataset in dm.datasets.items():
        for index, (path, label) in enumerate(dataset.samples):
            assert dm.class_names[label] == path.parent.name  # labels did not shift
            if dm.cached:  # nor did the stored images: each is its own file's
                expected = dm.prepare_for_cache(split)(load_rgb(path))
                assert torch.equal(dataset.store.tensor(index), expected)
    next(iter(dm.train_dataloader()))


def test_image_folder_bad_images_error_names_the_file(tmp_path):
    bad = photo_folder(tmp_path / "photos")
    dm = ImageFolderDataModule(root=str(tmp_path / "photos"), image_size=16, num_workers=0, bad_images="error")
    with pytest.raises(DatasetError, match=rf"cannot read image {bad[0]}: empty file") as info:
        dm.setup()
    assert "\n" not in str(info.value) and "data.bad_images=skip" in str(info.value)
    with pytest.raises(ValueError, match="data.bad_images must be one of"):
        ImageFolderDataModule(root=str(tmp_path / "photos"), bad_images="ignore")


def attribute_csv(folder: Path) -> tuple[Path, list[Path]]:
    rows = ["image,Hat,Smile"]
    for i in range(10):
        save_jpeg(folder / f"{i}.jpg", upright(seed=i))
        rows.append(f"{i}.jpg,{i % 2},{(i // 2) % 2}")
    (folder / "3.jpg").write_bytes(b"")
    (folder / "6.jpg").write_bytes(b"GIF89a broken")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder / "labels.csv", [folder / "3.jpg", folder / "6.jpg"]


def test_attributes_skip_bad_images_with_their_labels(tmp_path):
    csv, bad = attribute_csv(tmp_path / "faces")
    dm = AttributesDataModule(csv=str(csv), image_size=16, num_workers=0, test_fraction=0.2, val_fraction=0.2)
    assert sorted(dm.skipped_images) == sorted(map(str, bad))
    ids = [i for split in ("train", "val", "test") for i, _ in dm.images(split)]
    assert sorted(ids) == sorted(f"{i}.jpg" for i in range(10) if i not in (3, 6))
    for split in ("train", "val", "test"):
        for (image_id, _), label in zip(dm.images(split), dm.labels(split)):
            i = int(image_id.split(".")[0])
            assert label.tolist() == [i % 2, (i // 2) % 2]  # every label still with its image
    dm.setup()
    assert [p for p, _ in dm.datasets["train"].samples] == [p for _, p in dm.images("train")]
    with pytest.raises(DatasetError, match=r"cannot read image .*3\.jpg: empty file"):
        AttributesDataModule(csv=str(csv), image_size=16, num_workers=0, bad_images="error")


def test_geolocation_and_identities_skip_bad_images(tmp_path):
    rows = ["image,lat,lon"]
    for i in range(12):
        save_jpeg(tmp_path / "geo" / f"{i}.jpg", upright(seed=i))
        rows.append(f"{i}.jpg,{10 + i},{20 + i}")
    (tmp_path / "geo" / "5.jpg").write_bytes(b"")
    (tmp_path / "geo" / "train.csv").write_text("\n".join(rows) + "\n")
    kwargs = dict(partitionings=[{"name": "fine", "t_min": 0, "t_max": 100}], image_size=16, num_workers=0)
    geo = GeoDataModule(train_csv=str(tmp_path / "geo" / "train.csv"), **kwargs)
    assert geo.skipped_images == [str(tmp_path / "geo" / "5.jpg")]
    for split in ("train", "val", "test"):
        for (image_id, _), (lat, lon) in zip(geo.images(split), geo.coordinates(split)):
            assert image_id != "5.jpg" and lat == 10 + int(image_id[:-4]) and lon == 20 + int(image_id[:-4])
    with pytest.raises(DatasetError, match=r"cannot read image .*5\.jpg"):
        GeoDataModule(train_csv=str(tmp_path / "geo" / "train.csv"), bad_images="error", **kwargs)

    dm, bad = identities(tmp_path / "ids", bad=True)
    assert dm.skipped_images == [str(bad)]
    assert str(bad) not in {str(p) for split in ("train", "val") for _, p in dm.images(split)}
    with pytest.raises(DatasetError, match=r"cannot read image .*id_0/2\.jpg"):
        identities(tmp_path / "ids2", bad=True, bad_images="error")
    dm, _ = identities(tmp_path / "ids3")
    (tmp_path / "ids3" / "lfw" / "Bob_B" / "Bob_B_0002.jpg").write_bytes(b"")  # named by a pair: never skipped
    with pytest.raises(DatasetError, match=r"pairs.txt: a pair names the unreadable image .*Bob_B_0002.jpg"):
        IdentityDataModule(root=str(tmp_path / "ids3" / "train"), val_identities=0.25, num_workers=0)


# ------------------------------------------------------------------------------------------- metrics_split
def test_image_folder_holds_out_a_disjoint_stratified_test_split(tmp_path):
    for cls, count in (("a", 20), ("b", 10)):
        for i in range(count):
            (tmp_path / "photos" / cls).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (i, 3, 3)).save(tmp_path / "photos" / cls / f"{i}.png")
    dm = ImageFolderDataModule(root=str(tmp_path / "photos"), val_fraction=0.1, test_fraction=0.2, image_size=8,
                               num_workers=0)
    dm.setup()
    paths = {split: {p for p, _ in ds.samples} for split, ds in dm.datasets.items()}
    assert not paths["test"] & (paths["train"] | paths["val"]) and not paths["val"] & paths["train"]
    assert sum(map(len, paths.values())) == 30 and dm.metrics_split == "test"
    assert sorted(np.bincount([label for _, label in dm.datasets["test"].samples]).tolist()) == [2, 4]  # stratified
    again = ImageFolderDataModule(root=str(tmp_path / "photos"), val_fraction=0.1, test_fraction=0.2, image_size=8,
                                  num_workers=0)
    again.setup()
    assert again.datasets["test"].samples == dm.datasets["test"].samples  # seeded
    same = ImageFolderDataModule(root=str(tmp_path / "photos"), test_fraction=0.0, image_size=8, num_workers=0)
    same.setup()
    assert same.datasets["test"].samples == same.datasets["val"].samples
    assert same.metrics_split.startswith("val (data.test_fraction=0;")


def test_train_val_and_test_folders(tmp_path):
    for split, count in (("train", 3), ("val", 1), ("test", 2)):
        for cls in "ab":
            for i in range(count):
                (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8)).save(tmp_path / split / cls / f"{i}.png")
    folders = dict(train_dir=str(tmp_path / "train"), val_dir=str(tmp_path / "val"), image_size=8, num_workers=0)
    dm = ImageFolderDataModule(**folders)
    dm.setup()
    assert dm.metrics_split == "val (no data.test_dir; the checkpoint was also selected on it)"
    dm = ImageFolderDataModule(test_dir=str(tmp_path / "test"), **folders)
    dm.setup()
    assert {k: len(v) for k, v in dm.datasets.items()} == {"train": 6, "val": 2, "test": 4}
    assert dm.metrics_split == "test"


def test_attribute_csv_holds_out_a_disjoint_test_split(tmp_path):
    rows = ["image,Hat"]
    for i in range(20):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,{i % 2}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    dm = AttributesDataModule(csv=str(tmp_path / "labels.csv"), image_size=8, num_workers=0)
    ids = {split: {i for i, _ in dm.images(split)} for split in ("train", "val", "test")}
    assert len(ids["test"]) == 2 and len(ids["val"]) == 2 and len(ids["train"]) == 16
    assert not ids["test"] & (ids["train"] | ids["val"]) and not ids["val"] & ids["train"]
    dm.setup()
    assert dm.metrics_split == "test"
    dm = AttributesDataModule(csv=str(tmp_path / "labels.csv"), test_fraction=0.0, image_size=8, num_workers=0)
    dm.setup()
    assert dm.metrics_split.startswith("val (no data.test_csv and data.test_fraction=0;")


TINY_DEFAULTS = {
    "dogs": ("data.stanford_dogs", "StanfordDogsDataModule",
             {"num_classes": 3, "train_per_class": 6, "test_per_class": 3, "image_size": 40}),
    "faces": ("data.attributes", "AttributesDataModule",
              {"train": 16, "val": 6, "test": 8, "unlabelled": 4, "unlabelled_per_folder": 2, "width": 40,
               "height": 48}),
    "identities": ("data.identities", "IdentityDataModule",
                   {"train_identities": 10, "train_images_per_identity": [3, 4], "test_identities": 6,
                    "test_images_per_identity": [2, 3], "folds": 2, "pairs_per_fold": 3}),
    "world": ("data.geo", "GeoDataModule", {"train": 60, "val": 10, "test": 20}),
}


@pytest.mark.parametrize("name", sorted(TINY_DEFAULTS))
def test_embedded_defaults_have_a_real_test_split(name, caplog):
    """The generated defaults keep their own test splits (the same as before `metrics_split` existed), and their
    generation says so in a log line."""
    import importlib
    module, cls, generator = TINY_DEFAULTS[name]
    extra = {"partitionings": [{"name": "fine", "t_min": 1, "t_max": 30}]} if name == "world" else {}
    with caplog.at_level(logging.INFO, logger="data.cache"):
        dm = getattr(importlib.import_module(module), cls)(generator=generator, image_size=16, num_workers=0,
                                                             decode_cache_gb=0, **extra)
    dm.setup()
    assert dm.metrics_split == "test" and dm.skipped_images == []
    generated = [r.getMessage() for r in caplog.records if r.getMessage().startswith("generating the embedded")]
    assert len(generated) <= 1 and all("dataset into" in m and "(once)" in m for m in generated)


def test_generating_an_embedded_default_logs_one_line_first(tmp_path, caplog):
    from data.generate.dogs import DEFAULT_PARAMS, ensure_dogs
    from data.cache import ensure_embedded
    with caplog.at_level(logging.INFO, logger="data.cache"):
        folder = ensure_dogs({"num_classes": 2, "train_per_class": 2, "test_per_class": 1, "image_size": 24},
                             cache_dir=tmp_path)
        ensure_dogs({"num_classes": 2, "train_per_class": 2, "test_per_class": 1, "image_size": 24},
                    cache_dir=tmp_path)  # already there: silent
    lines = [r.getMessage() for r in caplog.records if r.name == "data.cache"]
    assert lines == [f"generating the embedded Stanford Dogs dataset into {folder} (once)"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="data.cache"):
        ensure_embedded("test", tmp_path / "x", dict(DEFAULT_PARAMS), DEFAULT_PARAMS, lambda tmp: None, seconds=15)
    assert caplog.records[0].getMessage() == f"generating the embedded test dataset into {tmp_path / 'x'} " \
                                             f"(about 15 s, once)"


# ------------------------------------------------------------------------------------------ weights log
def test_pretrained_weights_log_what_was_loaded(tmp_path, caplog):
    from torch import nn
    from backbone.weights import load_pretrained
    source = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "w.pth")
    target = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with caplog.at_level(logging.INFO, logger="backbone.weights"):
        load_pretrained(target, str(tmp_path / "w.pth"))
    assert f"backbone.pretrained: loaded 6 of the backbone's 6 tensors from {tmp_path / 'w.pth'}\n" in caplog.text
    assert torch.equal(target[0].weight, source[0].weight)
    caplog.clear()
    torch.save({**state, "head.weight": torch.zeros(2)}, tmp_path / "more.pth")
    with caplog.at_level(logging.INFO, logger="backbone.weights"):
        load_pretrained(target, str(tmp_path / "more.pth"))
    assert "loaded 6 of the backbone's 6 tensors" in caplog.text and "ignored 1 tensors" in caplog.text
