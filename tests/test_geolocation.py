"""task=geolocation: the geotagged CSV reader, adaptive S2 partitions, distances against geopy, hierarchical
scores, and a short end-to-end run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from data.errors import DatasetError
from data.geo import read_geo_csv
from data.geocells import CellLookup, build_partition, leaf_ids, parent_ids
from tasks.geolocation import distance_metrics, haversine_km


def test_haversine_matches_geopy_great_circle():
    from geopy.distance import great_circle
    rng = np.random.default_rng(0)
    a = np.c_[rng.uniform(-90, 90, 200), rng.uniform(-180, 180, 200)]
    b = np.c_[rng.uniform(-90, 90, 200), rng.uniform(-180, 180, 200)]
    ours = haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    theirs = [great_circle(tuple(p), tuple(q), radius=6371.0).km for p, q in zip(a, b)]
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-6)
    assert haversine_km(0, 179.5, 0, -179.5) == pytest.approx(111.19, abs=0.01)  # across the antimeridian


def test_thresholds_count_an_error_equal_to_the_distance():
    metrics = distance_metrics(np.array([0.5, 1.0, 25.0, 100.0, 3000.0]))
    assert metrics["acc_1km"] == 0.4 and metrics["acc_25km"] == 0.6 and metrics["acc_2500km"] == 0.8
    assert metrics["median_km"] == 25.0


def test_parent_ids_match_s2geometry():
    import s2geometry as s2
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-90, 90, 50), rng.uniform(-180, 180, 50)
    leaves = leaf_ids(lat, lon)
    for level in (0, 2, 7, 14, 29):
        expected = [s2.S2CellId(int(i)).parent(level).id() for i in leaves]
        assert parent_ids(leaves, level).tolist() == expected


def clustered(n_per: list[int], spread: float = 0.5, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = [(48.8, 2.3), (40.7, -74.0), (35.7, 139.7), (-33.9, 151.2), (-1.3, 36.8)]
    coords = np.concatenate([np.c_[rng.normal(c[0], spread, n), rng.normal(c[1], spread, n)]
                             for c, n in zip(centres, n_per)])
    return [f"p{i}.jpg" for i in range(len(coords))], coords


def test_partition_invariants():
    ids, coords = clustered([400, 300, 200, 40, 5])
    partition = build_partition(ids, coords[:, 0], coords[:, 1], [
        {"name": "coarse", "t_min": 10, "t_max": 300}, {"name": "fine", "t_min": 10, "t_max": 60}],
        min_level=2, max_level=12)
    lookup = CellLookup(partition)
    cells = lookup.cells(coords[:, 0], coords[:, 1])
    for p, spec in enumerate(partition["partitionings"]):
        counts = np.bincount(cells[cells[:, p] >= 0, p], minlength=len(spec["cells"]))
        # each kept photo in exactly one cell, the counts as recorded; no cell over t_max unless at max_level
        assert counts.tolist() == [c["count"] for c in spec["cells"]]
        assert all(c["count"] <= spec["t_max"] or c["level"] == 12 for c in spec["cells"])
        assert all(c["count"] > spec["t_min"] for c in spec["cells"])
        # dropped photos are counted: the 5 photos near Nairobi (and any other cell of <= 10)
        assert spec["dropped"] == int((cells[:, p] < 0).sum()) >= 5
        # a cell's mean location lies near its photos
        for k, cell in enumerate(spec["cells"]):
            inside = coords[cells[:, p] == k]
            assert haversine_km(*cell["mean"], *inside.mean(0)) < 5
    assert len(partition["partitionings"][1]["cells"]) > len(partition["partitionings"][0]["cells"])
    assert [len(a) for a in lookup.ancestors()] == [len(partition["partitionings"][1]["cells"])]


def test_partition_that_leaves_no_cell_is_an_error():
    ids, coords = clustered([5, 5, 5, 5, 5])
    with pytest.raises(DatasetError, match=r"partitionings.fine: no cell keeps more than t_min=10"):
        build_partition(ids, coords[:, 0], coords[:, 1], [{"name": "fine", "t_min": 10, "t_max": 60}])


def test_hierarchical_score_hand_computed():
    """Two coarse cells (A, B) and three fine cells (a1, a2 inside A; b1 inside B): the fine score is the product
    of the fine and coarse probabilities; hierarchy changes the argmax."""
    from tasks.geolocation import GeolocationTask
    ids, coords = clustered([0, 0, 0, 0, 0])
    task = GeolocationTask.__new__(GeolocationTask)
    task.sizes, task.ancestors = [2, 3], [torch.tensor([0, 0, 1])]
    coarse = torch.log(torch.tensor([[0.2, 0.8]]))
    fine = torch.log(torch.tensor([[0.5, 0.1, 0.4]]))
    scores = GeolocationTask.cell_scores(task, torch.cat([coarse, fine], 1))
    assert torch.allclose(scores, torch.tensor([[0.5 * 0.2, 0.1 * 0.2, 0.4 * 0.8]]))
    assert int(scores.argmax()) == 2 and int(fine.argmax()) == 0


# ------------------------------------------------------------------------------------------------------ CSVs
def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_reader_both_spellings(tmp_path):
    ids, coords = read_geo_csv(write_csv(tmp_path / "a.csv", "image,lat,lon\na.jpg,48.85,2.35\nb.jpg,-33.9,151.2\n"))
    assert ids == ["a.jpg", "b.jpg"] and coords.tolist() == [[48.85, 2.35], [-33.9, 151.2]]
    ids, coords = read_geo_csv(write_csv(tmp_path / "b.csv", "IMG_ID,AUTHOR,LAT,LON\nx/1.jpg,me,10,20\n"))
    assert ids == ["x/1.jpg"] and coords.tolist() == [[10, 20]]
    ids, _ = read_geo_csv(write_csv(tmp_path / "c.csv", "file,y,x\nq.jpg,1,2\n"),
                          {"image": "file", "lat": "y", "lon": "x"})
    assert ids == ["q.jpg"]


@pytest.mark.parametrize("rows,message", [
    ("a.jpg,,2.0", r":2: lat is missing"),
    ("a.jpg,north,2.0", r":2: lat='north' is not a number"),
    ("a.jpg,91,2.0", r":2: lat=91.0 is out of range"),
    ("a.jpg,10,-181", r":2: lon=-181.0 is out of range"),
    ("a.jpg,1,2\na.jpg,3,4", r":3: image id 'a.jpg' repeats line 2"),
])
def test_csv_reader_errors_name_file_and_line(tmp_path, rows, message):
    path = write_csv(tmp_path / "photos.csv", "image,lat,lon\n" + rows + "\n")
    with pytest.raises(DatasetError, match=message):
        read_geo_csv(path)


def test_missing_header_columns(tmp_path):
    with pytest.raises(DatasetError, match=r"photos.csv:1: the header \['a', 'b'\] lacks the columns"):
        read_geo_csv(write_csv(tmp_path / "photos.csv", "a,b\n1,2\n"))


def geo_folder(tmp_path: Path, count: int = 60) -> Path:
    ids, coords = clustered([count // 3, count // 3, count - 2 * (count // 3), 0, 0], spread=0.3)
    (tmp_path / "img").mkdir()
    lines = ["image,lat,lon"]
    for i, (image, (lat, lon)) in enumerate(zip(ids, coords)):
        Image.new("RGB", (24, 24), (i * 3 % 255, 80, 120)).save(tmp_path / "img" / image)
        lines.append(f"img/{image},{lat:.6f},{lon:.6f}")
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "train.csv"


def geo_data(csv: Path, **kwargs):
    from data.geo import GeoDataModule
    return GeoDataModule(train_csv=str(csv), partitionings=[{"name": "fine", "t_min": 2, "t_max": 20}],
                         image_size=16, batch_size=8, num_workers=0, decode_cache_gb=0, **kwargs)


def test_partition_file_reuse_foreign_partition_and_missing_image(tmp_path):
    csv = geo_folder(tmp_path)
    dm = geo_data(csv)
    assert sum(len(dm.coordinates(s)) for s in ("train", "val", "test")) == 60
    (tmp_path / "partition.json").write_text(json.dumps(dm.partition))
    assert geo_data(csv, partition_file=str(tmp_path / "partition.json")).partition == dm.partition
    (tmp_path / "other.json").write_text(json.dumps(dict(dm.partition, fingerprint="0" * 40)))
    with pytest.raises(DatasetError, match=r"other.json was built from other training photos"):
        geo_data(csv, partition_file=str(tmp_path / "other.json"))
    (tmp_path / "img" / "p0.jpg").write_bytes(b"not a jpeg")  # unreadable: left out, or named (bad_images=error)
    dm = geo_data(csv)
    assert dm.skipped_images == [str(tmp_path / "img" / "p0.jpg")]
    assert all("img/p0.jpg" not in dict(dm.images(split)) for split in ("train", "val", "test"))
    with pytest.raises(DatasetError, match=r"cannot read image .*p0\.jpg"):
        geo_data(csv, bad_images="error")
    (tmp_path / "img" / "p0.jpg").unlink()
    line = next(n for n, row in enumerate(csv.read_text().splitlines(), start=1) if "p0.jpg" in row)
    with pytest.raises(DatasetError, match=rf"train.csv:{line}: image 'img/p0.jpg' not found under .* \(1 of the"):
        geo_data(csv)


def test_csv_row_naming_a_missing_image_names_file_and_line(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
    path = write_csv(tmp_path / "photos.csv", "image,lat,lon\na.jpg,1,2\n\nmissing.jpg,3,4\ngone.jpg,5,6\n")
    assert read_geo_csv(path)[0] == ["a.jpg", "missing.jpg", "gone.jpg"]  # without an image root: not checked
    with pytest.raises(DatasetError, match=r"photos.csv:4: image 'missing.jpg' not found under .* \(2 of the file's "
                                           r"3 images are missing\); fix the path or data.image_root"):
        read_geo_csv(path, image_root=tmp_path)


# ------------------------------------------------------------------------------------------------ end to end
TINY_WORLD = [
    "task=geolocation", "data.generator={train: 240, val: 40, test: 60}",
    "data.partitionings=[{name: coarse, t_min: 3, t_max: 60}, {name: fine, t_min: 3, t_max: 20}]",
    "data.image_size=32", "data.batch_size=16", "data.num_workers=0", "trainer.max_epochs=2",
    "trainer.log_every_n_steps=1", "latency_repeats=2", "callbacks.progress_bar.refresh_rate=0",
    "backbone.width_mult=0.25",
]


def test_end_to_end_partition_saved_and_reused_and_predict(tmp_path):
    """A short run: the metrics and baselines agree with an independent computation from the saved predictions'
    inputs, the partition is saved with the run and can be passed to another, predict gives locations."""
    from conftest import compose_config

    from tasks.engine.evaluate import evaluate
    from tasks.engine.predict import predict
    from tasks.engine.run import train_and_test
    results = train_and_test(compose_config(TINY_WORLD, tmp_path / "run"))
    metrics = results["metrics"]
    assert set(metrics) >= {"acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km"}
    assert metrics["acc_1km"] <= metrics["acc_25km"] <= metrics["acc_2500km"]
    assert set(results["cells"]) == {"coarse", "fine"} and results["cells"]["fine"]["cells"] >= \
        results["cells"]["coarse"]["cells"]
    # the most-populated-cell baseline, recomputed with geopy from the partition file and the test CSV
    from geopy.distance import great_circle
    partition = json.loads(Path(results["partition_file"]).read_text())
    busiest = max(partition["partitionings"][-1]["cells"], key=lambda c: c["count"])["mean"]
    from hydra.utils import instantiate
    dm = instantiate(compose_config(TINY_WORLD).data, _convert_="all")
    errors = np.asarray([great_circle(tuple(c), tuple(busiest), radius=6371.0).km for c in dm.coordinates("test")])
    assert results["baselines"]["most_populated_cell"]["acc_750km"] == pytest.approx((errors <= 750).mean())
    assert results["baselines"]["most_populated_cell"]["median_km"] == pytest.approx(np.median(errors), rel=1e-6)
    assert all(Path(p).is_file() for p in results["plots"])
    # the checkpoint alone evaluates to the same metrics; a second run reuses the partition file
    again = evaluate(tmp_path / "run", output_dir=tmp_path / "eval", latency_repeats=1)
    assert again["metrics"]["acc_750km"] == metrics["acc_750km"]
    reused = train_and_test(compose_config([*TINY_WORLD, f"data.partition_file={results['partition_file']}",
                                            "trainer.max_epochs=1"], tmp_path / "run2"))
    assert json.loads(Path(reused["partition_file"]).read_text()) == partition
    photo = dm.images("test")[0][1]
    predict(tmp_path / "run", photo, output_dir=tmp_path / "predicted")
    record = json.loads((tmp_path / "predicted" / "predictions.jsonl").read_text().splitlines()[0])
    assert -90 <= record["lat"] <= 90 and -180 <= record["lon"] <= 180 and len(record["cells"]) >= 1


@pytest.mark.slow
def test_default_run_meets_its_targets(tmp_path):
    """`python train.py task=geolocation` with the defaults, from the tests' fresh cache: within 10 minutes, at
    least 2x the most-populated-cell baseline at 750 km and a wide margin (1.5x) over it at 2500 km."""
    from conftest import run_default
    results, seconds = run_default("geolocation", tmp_path)
    model, busiest = results["metrics"], results["baselines"]["most_populated_cell"]
    assert seconds <= 600, seconds
    assert model["acc_750km"] >= 2 * busiest["acc_750km"], (model, busiest)
    assert model["acc_2500km"] >= 1.5 * busiest["acc_2500km"], (model, busiest)
