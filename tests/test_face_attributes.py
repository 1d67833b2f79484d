"""Face attributes: the CelebA and CSV readers, the metrics against scikit-learn, the teacher kinds and their cache,
and both stages end to end on a tiny generated dataset."""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from conftest import compose_config
from data.attributes import (AttributesDataModule, read_attribute_csv, read_celeba_attributes,
                             read_celeba_partition)
from data.errors import DatasetError
from tasks.attributes import per_attribute_accuracy, per_attribute_ap
from tasks.distill import TeacherError
from tasks.engine.config import ConfigError
from tasks.engine.run import train_and_test

TINY_FACES = [
    "data.generator={train: 32, val: 12, test: 16, unlabelled: 24, unlabelled_per_folder: 10, width: 40, height: 48}",
    "data.batch_size=16", "data.num_workers=0", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
    "latency_repeats=1", "callbacks.progress_bar.refresh_rate=0",
]
TINY_STUDENT = ["task=face_attributes", "data.image_size=32", *TINY_FACES]
TINY_TEACHER_OVERRIDES = ('teacher.overrides=["task=face_attributes_teacher","data.image_size=40",'
                          '"backbone.width_mult=0.25"]')


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def celeba(root: Path, attr_lines: list[str], partition_lines: list[str], header: str = "Smiling Young ",
           newline: str = "\n", count: int | None = None) -> Path:
    """A small CelebA folder with 1x1 images for every listed image."""
    from PIL import Image
    count = len(attr_lines) if count is None else count
    write(root / "list_attr_celeba.txt", f"{count}\n{header}\n" + "\n".join(attr_lines) + "\n", newline)
    write(root / "list_eval_partition.txt", "\n".join(partition_lines) + "\n", newline)
    (root / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    for line in attr_lines:
        Image.new("RGB", (8, 8), (128, 64, 32)).save(root / "img_align_celeba" / line.split()[0])
    return root


# ------------------------------------------------------------------------------------------------------ readers
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_celeba_reader_real_format(tmp_path, newline):
    root = celeba(tmp_path, ["000001.jpg -1  1", "000002.jpg  1 -1", "000003.jpg  1  1"],
                  ["000001.jpg 0", "000002.jpg 1", "000003.jpg 2"], newline=newline)
    names, images, labels = read_celeba_attributes(root / "list_attr_celeba.txt")
    assert names == ["Smiling", "Young"]  # the trailing space of the header makes no empty name
    assert images == ["000001.jpg", "000002.jpg", "000003.jpg"]
    np.testing.assert_array_equal(labels, [[0, 1], [1, 0], [1, 1]])
    assert read_celeba_partition(root / "list_eval_partition.txt") == {
        "000001.jpg": "train", "000002.jpg": "val", "000003.jpg": "test"}
    dm = AttributesDataModule(root=str(root), image_size=8, num_workers=0)
    assert dm.class_names == ["Smiling", "Young"] and dm.unlabelled == []
    assert [i for i, _ in dm.images("test")] == ["000003.jpg"]
    np.testing.assert_array_equal(dm.labels("val"), [[1, 0]])


@pytest.mark.parametrize("lines, header, message", [
    (["000001.jpg -1  1  1"], "Smiling Young", r"list_attr_celeba.txt:3: 3 values for 2 attributes"),
    (["000001.jpg -1  0"], "Smiling Young", r"list_attr_celeba.txt:3: value '0' is not -1 or 1"),
    (["000001.jpg -1  1"], "Smiling Smiling", r"list_attr_celeba.txt:2: attribute 'Smiling' is named twice"),
])
def test_celeba_reader_errors(tmp_path, lines, header, message):
    root = celeba(tmp_path, lines, ["000001.jpg 0"], header=header)
    with pytest.raises(DatasetError, match=message):
        read_celeba_attributes(root / "list_attr_celeba.txt")


def test_celeba_count_line_and_file_mismatches(tmp_path):
    root = celeba(tmp_path / "a", ["000001.jpg -1  1"], ["000001.jpg 0"], count=5)
    with pytest.raises(DatasetError, match=r":1: says 5 images, the file lists 1"):
        read_celeba_attributes(root / "list_attr_celeba.txt")
    root = celeba(tmp_path / "b", ["000001.jpg -1  1", "000002.jpg  1  1"], ["000001.jpg 0", "000003.jpg 2"])
    with pytest.raises(DatasetError, match=r"list different images: 1 only in the first .*000002.jpg.*000003.jpg"):
        AttributesDataModule(root=str(root))
    root = celeba(tmp_path / "c", ["000001.jpg -1  1", "000002.jpg  1  1"], ["000001.jpg 0", "000002.jpg 2"])
    (root / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DatasetError, match=r"lists 1 image\(s\) missing under .*img_align_celeba.*000002.jpg"):
        AttributesDataModule(root=str(root))


def test_unreadable_image_names_the_file(tmp_path):
    root = celeba(tmp_path, ["000001.jpg -1  1", "000002.jpg  1  1"], ["000001.jpg 0", "000002.jpg 2"])
    (root / "img_align_celeba" / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="000001.jpg"):  # data.bad_images=error; skip is tests/test_images.py
        dm = AttributesDataModule(root=str(root), image_size=8, num_workers=0, decode_cache_gb=0, bad_images="error")
        dm.setup("fit")


def test_attribute_csv(tmp_path):
    csv_file = write(tmp_path / "a.csv", "image,Hat,Smile\nx.jpg,1,0\ny.jpg,,1\nz.jpg,0,\n")
    names, images, labels = read_attribute_csv(csv_file)
    assert names == ["Hat", "Smile"] and images == ["x.jpg", "y.jpg", "z.jpg"]
    np.testing.assert_array_equal(labels, [[1, 0], [np.nan, 1], [0, np.nan]])
    names, _, labels = read_attribute_csv(write(tmp_path / "b.csv", "image,Hat\nx.jpg,-1\ny.jpg,1\n"))
    np.testing.assert_array_equal(labels, [[0], [1]])
    with pytest.raises(DatasetError, match=r"b2.csv:3: Hat = 0 but line 2 uses -1/1"):
        read_attribute_csv(write(tmp_path / "b2.csv", "image,Hat\nx.jpg,-1\ny.jpg,0\n"))
    with pytest.raises(DatasetError, match=r"c.csv:2: Hat = 'yes'"):
        read_attribute_csv(write(tmp_path / "c.csv", "image,Hat\nx.jpg,yes\n"))
    with pytest.raises(DatasetError, match=r"d.csv:2: 1 values for 2 attributes"):
        read_attribute_csv(write(tmp_path / "d.csv", "image,Hat,Smile\nx.jpg,1\n"))


def test_csv_datamodule_with_unlabelled_folder(tmp_path):
    from PIL import Image
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "pool/p1/e.png", "pool/f.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    write(tmp_path / "train.csv", "image,Hat\na.jpg,1\nb.jpg,0\nc.jpg,\n")
    write(tmp_path / "test.csv", "image,Hat\nd.jpg,1\n")
    dm = AttributesDataModule(csv=str(tmp_path / "train.csv"), val_csv=str(tmp_path / "test.csv"),
                              unlabelled=str(tmp_path / "pool"), distill=True, image_size=8, num_workers=0)
    assert [i for i, _ in dm.images("train")] == ["a.jpg", "b.jpg", "c.jpg", "f.jpg", "p1/e.png"]
    samples = dm.list_samples()
    assert [label for _, label in samples["train"]] == [0, 1, 2, 3, 4]  # indices, never labels
    dm.setup("fit")
    images, targets = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (5, 3, 8, 8) and sorted(targets.tolist()) == [0, 1, 2, 3, 4]


def test_generated_faces_are_deterministic_with_realistic_prevalences(tmp_path):
    import hashlib

    from data.generate.faces import ATTRIBUTES, generate_faces, sample_attributes
    params = {"train": 6, "val": 2, "test": 2, "unlabelled": 3, "unlabelled_per_folder": 2, "width": 40, "height": 48}
    a, b = generate_faces(tmp_path / "a", params), generate_faces(tmp_path / "b", params)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 10 + 3 + 2 and Path("unlabelled/part_01/000003.jpg") in files
    assert all(hashlib.sha1((a / f).read_bytes()).digest() == hashlib.sha1((b / f).read_bytes()).digest()
               for f in files)
    names, images, _ = read_celeba_attributes(a / "list_attr_celeba.txt")
    assert names == ATTRIBUTES and len(names) >= 12 and len(images) == 10
    draws = [sample_attributes(np.random.default_rng([9, i])) for i in range(4000)]
    prevalence = {name: np.mean([d[name] for d in draws]) for name in ATTRIBUTES}
    assert 0.35 < prevalence["Male"] < 0.5 and prevalence["Sunglasses"] < 0.05 and prevalence["Bald"] < 0.05
    assert all(d["Male"] for d in draws if d["Beard"]) and not any(d["Eyeglasses"] and d["Sunglasses"] for d in draws)


# ------------------------------------------------------------------------------------------------------ metrics
def test_mean_ap_matches_sklearn_with_unknown_labels():
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 5)) < [0.5, 0.1, 0.3, 0.05, 0.7]).astype(np.float32)
    scores = np.clip(labels * 0.3 + rng.random((200, 5)), 0, 1).astype(np.float32)
    unknown = rng.random((200, 5)) < 0.2
    labels_unknown = np.where(unknown, np.nan, labels)
    ours = per_attribute_ap(torch.from_numpy(scores), torch.from_numpy(labels_unknown)).numpy()
    for a in range(5):
        known = ~unknown[:, a]
        assert ours[a] == pytest.approx(average_precision_score(labels[known, a], scores[known, a]), abs=1e-5)
    labels_unknown[:, 3] = np.where(unknown[:, 3], np.nan, 0)  # no positive: no AP
    assert np.isnan(per_attribute_ap(torch.from_numpy(scores), torch.from_numpy(labels_unknown)).numpy()[3])


def test_an_attribute_unknown_throughout_a_split_is_left_out():
    """A CSV column left empty in a split (every label of that attribute unknown): its AP and accuracy are NaN
    (left out of the means), the other attributes' match scikit-learn on their known labels."""
    from sklearn.metrics import accuracy_score
    rng = np.random.default_rng(2)
    labels = (rng.random((60, 4)) < 0.4).astype(np.float32)
    labels[rng.random((60, 4)) < 0.1] = np.nan
    labels[:, 2] = np.nan  # the column left empty
    scores = rng.random((60, 4)).astype(np.float32)
    ap = per_attribute_ap(torch.from_numpy(scores), torch.from_numpy(labels)).numpy()
    accuracy = per_attribute_accuracy(torch.from_numpy(scores), torch.from_numpy(labels)).numpy()
    assert np.isnan(ap[2]) and np.isnan(accuracy[2])
    for a in (0, 1, 3):
        known = ~np.isnan(labels[:, a])
        assert ap[a] == pytest.approx(average_precision_score(labels[known, a], scores[known, a]), abs=1e-5)
        assert accuracy[a] == pytest.approx(accuracy_score(labels[known, a], scores[known, a] > 0.5), abs=1e-6)


# ------------------------------------------------------------------------------------------------ end to end
def test_two_stages_end_to_end_and_resume_reuses_teacher(tmp_path):
    results = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES], tmp_path / "run"))
    stage = json.loads((tmp_path / "run" / "teacher" / "results.json").read_text())
    assert stage["task"] == "face_attributes_teacher" and stage["image_size"] == 40
    teacher = results["teacher"]
    assert teacher["kind"] == "checkpoint" and teacher["run_dir"] == str(tmp_path / "run" / "teacher")
    assert teacher["mult_adds"] > results["mult_adds"]
    # the teacher's mean AP from its cached outputs is the one its own run measured on the same test split
    assert teacher["metrics"]["mean_ap"] == pytest.approx(stage["metrics"]["mean_ap"], abs=1e-4)
    assert 0 <= results["metrics"]["mean_ap"] <= 1 and 0 <= results["metrics"]["agreement_ap"] <= 1
    assert set(results["per_attribute"]) == set(stage["per_attribute"])
    assert Path(results["plots"][0]).is_file()
    # resuming the two-stage run reuses the finished teacher
    teacher_ckpt = Path(stage["tested_checkpoint"])
    mtime = teacher_ckpt.stat().st_mtime_ns
    again = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES, "resume=last"], tmp_path / "run"))
    assert teacher_ckpt.stat().st_mtime_ns == mtime
    assert again["teacher"]["metrics"] == teacher["metrics"]
    # stopped during stage 1 (no teacher results yet, no student checkpoint): resume=last finishes the teacher from
    # its last checkpoint, then trains the student from the beginning
    (tmp_path / "run" / "teacher" / "results.json").unlink()
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    resumed = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES, "resume=last"], tmp_path / "run"))
    stage_again = json.loads((tmp_path / "run" / "teacher" / "results.json").read_text())
    assert stage_again["resumed_from"] and stage_again["global_step"] == stage["global_step"]
    assert resumed["start_step"] == 0 and resumed["global_step"] == results["global_step"]
    # a folder whose teacher was trained with another config is never reused silently
    changed = TINY_TEACHER_OVERRIDES.replace("width_mult=0.25", "width_mult=0.5")
    with pytest.raises(ConfigError, match=r"resume: these overrides differ from the run's config .*teacher.overrides"):
        train_and_test(compose_config([*TINY_STUDENT, changed, "resume=last"], tmp_path / "run"))


def test_labels_baseline_and_its_mean_ap_against_sklearn(tmp_path):
    """The labels baseline has no teacher; its logged test mean AP equals scikit-learn's on the checkpoint's
    predictions (the model rebuilt from the checkpoint alone, the test images through the streaming transform)."""
    from tasks.core.checkpoint import load_task_model
    results = train_and_test(compose_config([*TINY_STUDENT, "model.distill=false", "trainer.max_epochs=3"], tmp_path))
    assert "teacher" not in results and not (tmp_path / "teacher").exists()
    from PIL import Image
    model, _ = load_task_model(results["tested_checkpoint"])
    dm = _tiny_dm()
    images = torch.stack([dm.eval_transform(Image.open(p).convert("RGB")) for _, p in dm.images("test")])
    with torch.no_grad():
        scores = torch.sigmoid(model(images)).numpy()
    labels = dm.labels("test")
    aps = [average_precision_score(labels[:, a], scores[:, a]) for a in range(labels.shape[1]) if labels[:, a].any()]
    assert results["metrics"]["mean_ap"] == pytest.approx(float(np.mean(aps)), abs=1e-4)
    assert results["prevalence_baseline_mean_ap"] == pytest.approx(
        float(np.mean([labels[:, a].mean() for a in range(labels.shape[1]) if labels[:, a].any()])), abs=1e-6)


def _csv_splits(folder: Path, blank: str) -> dict[str, Path]:
    """The tiny generated faces as train / val / test CSVs, attribute `blank` left empty (unknown) in val and
    test."""
    from data.generate.faces import ensure_faces
    generator = {"train": 32, "val": 12, "test": 16, "unlabelled": 0, "width": 40, "height": 48}
    root = ensure_faces(generator)
    names, images, labels = read_celeba_attributes(root / "list_attr_celeba.txt")
    partition = read_celeba_partition(root / "list_eval_partition.txt")
    files = {}
    for split in ("train", "val", "test"):
        lines = ["image," + ",".join(names)]
        for image, row in zip(images, labels):
            if partition[image] == split:
                cells = ["" if split != "train" and name == blank else str(int(v)) for name, v in zip(names, row)]
                lines.append(f"img_align_celeba/{image}," + ",".join(cells))
        files[split] = write(folder / f"{split}.csv", "\n".join(lines) + "\n")
    for image in images:
        (folder / "img_align_celeba").mkdir(exist_ok=True)
        shutil.copy(root / "img_align_celeba" / image, folder / "img_align_celeba" / image)
    return files


def test_training_with_an_attribute_unknown_throughout_validation_and_test(tmp_path):
    """A split whose CSV leaves one attribute's column empty: validation and test run (no IndexError inside
    torchmetrics), that attribute has no AP (None), and the means are over the others: scikit-learn's on the
    checkpoint's test predictions."""
    from PIL import Image

    from tasks.core.checkpoint import load_task_model
    files = _csv_splits(tmp_path / "data", "Smiling")
    results = train_and_test(compose_config([
        "task=face_attributes_teacher", "data.image_size=32", "backbone.width_mult=0.25",
        *(o for o in TINY_FACES if not o.startswith("data.generator")),
        f"data.csv={files['train']}", f"data.val_csv={files['val']}", f"data.test_csv={files['test']}",
        "trainer.max_epochs=2"], tmp_path / "run"))
    smiling = results["per_attribute"]["Smiling"]
    assert smiling["ap"] is None and smiling["prevalence"] is None
    model, _ = load_task_model(results["tested_checkpoint"])
    dm = AttributesDataModule(csv=str(files["train"]), val_csv=str(files["val"]), test_csv=str(files["test"]),
                              image_size=32, num_workers=0)
    images = torch.stack([dm.eval_transform(Image.open(p).convert("RGB")) for _, p in dm.images("test")])
    with torch.no_grad():
        scores = torch.sigmoid(model(images)).numpy()
    labels = dm.labels("test")
    known = [a for a in range(labels.shape[1]) if not np.isnan(labels[:, a]).all()]
    assert dm.class_names.index("Smiling") not in known
    aps = [average_precision_score(labels[:, a], scores[:, a]) for a in known if (labels[:, a] == 1).any()]
    assert results["metrics"]["mean_ap"] == pytest.approx(float(np.mean(aps)), abs=1e-4)
    accuracy = [np.mean((scores[:, a] > 0.5) == labels[:, a]) for a in known]
    assert results["metrics"]["mean_accuracy"] == pytest.approx(float(np.mean(accuracy)), abs=1e-4)


def test_the_teacher_pass_runs_in_parts_as_separate_jobs(tmp_path, monkeypatch, caplog):
    """teacher.part=i computes that part of the student's teacher pass and stops (its results.json says so); the run
    without it computes only the missing parts. teacher=train cannot run in parts: one line."""
    stage = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES], tmp_path / "stage"))
    monkeypatch.setattr("tasks.distill.mixin.default_cache_dir", lambda: tmp_path / "cache")  # not the stage's
    student = [*TINY_STUDENT, "teacher=checkpoint", f"teacher.path={stage['teacher']['source']}", "teacher.parts=3"]
    job = train_and_test(compose_config([*student, "teacher.part=1"], tmp_path / "part1"))
    assert json.loads((tmp_path / "part1" / "results.json").read_text()) == job
    assert job["kind"] == "teacher pass" and (job["teacher_part"], job["teacher_parts"]) == (1, 3)
    assert not (tmp_path / "part1" / "checkpoints").exists()  # nothing trained
    with caplog.at_level(logging.INFO, logger="tasks.distill.mixin"):
        run = train_and_test(compose_config(student, tmp_path / "run"))
    parts = [r.getMessage().split(" (")[0] for r in caplog.records if "teacher outputs, part" in r.getMessage()]
    assert parts[:2] == ["teacher outputs, part 1/3", "teacher outputs, part 3/3"]  # training split: 2 was done
    assert run["teacher"]["metrics"] == stage["teacher"]["metrics"] and run["global_step"] > 0
    with pytest.raises(TeacherError, match="teacher.part: the parts of a teacher pass run from a teacher that exists"):
        train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES, "teacher.part=0"], tmp_path / "x"))


def test_online_teacher(tmp_path):
    """teacher.online=true runs a model teacher on every augmented batch (no cached training outputs)."""
    first = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES], tmp_path / "stage"))
    cache = Path(os.environ["MOBILENET_SUITE_CACHE"]) / "teacher_outputs"
    before = set(cache.iterdir())
    online = train_and_test(compose_config([*TINY_STUDENT, "teacher=checkpoint", "teacher.online=true",
                                            f"teacher.path={first['teacher']['source']}"], tmp_path / "online"))
    assert online["global_step"] == first["global_step"] and online["teacher"]["metrics"] == first["teacher"]["metrics"]
    assert set(cache.iterdir()) == before  # the teacher's test outputs were cached by the first run; no train list
    with pytest.raises(TeacherError, match="teacher.online=true needs a model teacher"):
        path = _outputs_file(tmp_path, _tiny_dm(), ".npz")
        train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", "+teacher.online=true",
                                       f"teacher.path={path}"], tmp_path / "bad"))


def _outputs_file(tmp_path: Path, dm: AttributesDataModule, suffix: str, drop: int = 0, extra_column=False) -> Path:
    ids = [i for split in ("train", "test") for i, _ in dm.images(split)]
    ids = ids[drop:]
    rng = np.random.default_rng(1)
    outputs = rng.normal(size=(len(ids), len(dm.class_names) + int(extra_column))).astype(np.float32)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"teacher{suffix}"
    if suffix == ".npz":
        np.savez(path, ids=np.array(ids), outputs=outputs)
    else:
        lines = ["image," + ",".join(f"o{k}" for k in range(outputs.shape[1]))]
        lines += [f"{i}," + ",".join(f"{v:.6f}" for v in row) for i, row in zip(ids, outputs)]
        write(path, "\n".join(lines) + "\n")
    return path


def _tiny_dm(**kwargs) -> AttributesDataModule:
    from data.generate.faces import ensure_faces
    generator = {"train": 32, "val": 12, "test": 16, "unlabelled": 24, "unlabelled_per_folder": 10, "width": 40,
                 "height": 48}
    return AttributesDataModule(root=str(ensure_faces(generator)), distill=True, image_size=32, num_workers=0,
                                **kwargs)


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_precomputed_outputs_teacher(tmp_path, suffix):
    path = _outputs_file(tmp_path, _tiny_dm(), suffix)
    results = train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", f"teacher.path={path}"],
                                            tmp_path / "run"))
    assert results["teacher"]["kind"] == "outputs" and results["teacher"]["mult_adds"] is None
    assert 0 <= results["teacher"]["metrics"]["mean_ap"] <= 1


def test_precomputed_outputs_are_aligned_by_id_and_name(tmp_path):
    """Outputs that equal the labels (rows shuffled, columns named in another order) give the teacher AP 1 on the
    test split, and every training image gets its own row."""
    from tasks.distill import OutputsTeacher, teacher_outputs
    dm = _tiny_dm()
    ids = [i for split in ("train", "test") for i, _ in dm.images(split)]  # train: labelled, then unlabelled
    unlabelled = np.full((len(dm.unlabelled), len(dm.class_names)), 0.5, dtype=np.float32)
    labels = np.concatenate([dm.labels("train"), unlabelled, dm.labels("test")])
    rng = np.random.default_rng(0)
    rows, columns = rng.permutation(len(ids)), rng.permutation(len(dm.class_names))
    logits = (8 * (2 * labels - 1))[rows][:, columns]
    path = tmp_path / "named.npz"
    np.savez(path, ids=np.array(ids)[rows], outputs=logits, names=np.array(dm.class_names)[columns])
    teacher = OutputsTeacher(path)
    got = teacher_outputs(teacher, dm.images("train"), len(dm.class_names), "data", names=dm.class_names)
    np.testing.assert_array_equal(got.numpy()[:len(dm.labels("train"))], 8 * (2 * dm.labels("train") - 1))
    results = train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", f"teacher.path={path}"],
                                            tmp_path / "run"))
    assert results["teacher"]["metrics"]["mean_ap"] == pytest.approx(1.0)
    np.savez(path, ids=np.array(ids), outputs=logits, names=np.array(["Smiling", *dm.class_names[1:]]))
    with pytest.raises(TeacherError, match="names its outputs .*missing"):
        teacher_outputs(OutputsTeacher(path), dm.images("train"), len(dm.class_names), "data", names=dm.class_names)


def test_precomputed_outputs_errors(tmp_path):
    dm = _tiny_dm()
    missing = _outputs_file(tmp_path / "a", dm, ".npz", drop=3)
    with pytest.raises(DatasetError, match=r"teacher.npz lack 3 of .* image ids"):
        train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", f"teacher.path={missing}"], tmp_path / "r1"))
    wide = _outputs_file(tmp_path / "b", dm, ".csv", extra_column=True)
    with pytest.raises(DatasetError, match=rf"have {len(dm.class_names) + 1} values per image; data with "
                                           rf"{len(dm.class_names)} attributes needs {len(dm.class_names)}"):
        train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", f"teacher.path={wide}"], tmp_path / "r2"))


def test_student_never_reads_a_label(tmp_path):
    """Flipping every training label leaves the distilled student's weights bit-identical."""
    import shutil

    from data.generate.faces import ensure_faces
    generator = {"train": 32, "val": 12, "test": 16, "unlabelled": 24, "unlabelled_per_folder": 10, "width": 40,
                 "height": 48}
    original = ensure_faces(generator)
    flipped = tmp_path / "flipped"
    shutil.copytree(original, flipped)
    attr = flipped / "list_attr_celeba.txt"
    partition = read_celeba_partition(flipped / "list_eval_partition.txt")
    lines = attr.read_text().splitlines()
    for k in range(2, len(lines)):
        image, *values = lines[k].split()
        if partition[image] == "train":
            lines[k] = image + " " + " ".join("-1" if v == "1" else "1" for v in values)
    attr.write_text("\n".join(lines) + "\n")
    teacher = _outputs_file(tmp_path, _tiny_dm(), ".npz")
    weights = []
    for name, root in (("a", original), ("b", flipped)):
        overrides = [*TINY_STUDENT, f"data.root={root}", "data.generator=null", "teacher=outputs",
                     f"teacher.path={teacher}", "trainer.deterministic=true", "data.unlabelled=null"]
        run = train_and_test(compose_config(overrides, tmp_path / name))
        weights.append(torch.load(run["tested_checkpoint"], weights_only=True)["state_dict"])
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def _export_onnx(model: torch.nn.Module, size: int, path: Path) -> Path:
    torch.onnx.export(model.eval(), (torch.zeros(2, 3, size, size),), str(path), dynamo=False,
                      input_names=["images"], output_names=["logits"], dynamic_axes={"images": {0: "batch"}})
    return path


def test_onnx_teacher_and_cache(tmp_path, private_cache, caplog):
    from tasks.core.checkpoint import load_task_model
    first = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER_OVERRIDES], tmp_path / "stage"))
    teacher_model, _ = load_task_model(first["teacher"]["source"])
    onnx_file = _export_onnx(teacher_model, 40, tmp_path / "teacher.onnx")
    view = ["teacher.image_size=40", "teacher.crop_fraction=1.0", "teacher.mean=[0.5,0.5,0.5]",
            "teacher.std=[0.5,0.5,0.5]"]
    runs = [train_and_test(compose_config([*TINY_STUDENT, "teacher=onnx", f"teacher.path={onnx_file}", *view],
                                          tmp_path / f"onnx{k}")) for k in range(2)]
    # the ONNX teacher is the stage-1 checkpoint's network: the same mean AP on the test split
    assert runs[0]["teacher"]["metrics"]["mean_ap"] == pytest.approx(first["teacher"]["metrics"]["mean_ap"], abs=2e-3)
    assert runs[0]["teacher"]["params"] > 0
    def cached_outputs() -> dict[Path, int]:
        return {p: (p / "outputs.npy").stat().st_mtime_ns
                for p in (private_cache / "teacher_outputs").iterdir() if not p.name.startswith(".")}
    cached = cached_outputs()
    # a second run reuses the cached outputs: the same files, not rewritten
    assert runs[1]["teacher"]["metrics"] == runs[0]["teacher"]["metrics"]
    assert cached_outputs() == cached
    # a changed teacher (other weights) gets new outputs, never the stale ones
    with torch.no_grad():
        teacher_model.head[-1].bias.add_(1.0)
    _export_onnx(teacher_model, 40, onnx_file)
    changed = train_and_test(compose_config([*TINY_STUDENT, "teacher=onnx", f"teacher.path={onnx_file}", *view],
                                            tmp_path / "onnx_changed"))
    assert len(cached_outputs()) == len(cached) + 2  # new outputs for the train and test lists
    assert changed["teacher"]["metrics"]["mean_accuracy"] != runs[0]["teacher"]["metrics"]["mean_accuracy"]
    # a changed image list (one more unlabelled image) gets new outputs too
    from tasks.distill import OnnxTeacher, View, teacher_outputs
    teacher = OnnxTeacher(onnx_file, View(40, 1.0, (0.5,) * 3, (0.5,) * 3))
    images = _tiny_dm().images("train")
    before = cached_outputs()
    teacher_outputs(teacher, images[:-1], teacher_model.num_classes, "data", num_workers=0)
    assert len(cached_outputs()) == len(before) + 1


def test_onnx_teacher_with_wrong_output_size(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 3))
    onnx_file = _export_onnx(model, 32, tmp_path / "small.onnx")
    overrides = [*TINY_STUDENT, "teacher=onnx", f"teacher.path={onnx_file}", "teacher.image_size=32",
                 "teacher.crop_fraction=1.0", "teacher.mean=[0.5,0.5,0.5]", "teacher.std=[0.5,0.5,0.5]"]
    with pytest.raises(TeacherError, match=r"small.onnx gives 3 outputs per image; data with \d+ attributes needs"):
        train_and_test(compose_config(overrides, tmp_path / "run"))


@pytest.mark.slow
def test_default_run_meets_its_targets(tmp_path):
    """`python train.py task=face_attributes` with the defaults, from the tests' fresh cache (the dataset is
    generated and decoded): both stages within 10 minutes, the teacher far above the prevalence baseline, the
    student at <= 10% of its mult-adds within 0.9x of its mean AP. Runs with the user's thread settings."""
    from conftest import run_default
    results, seconds = run_default("face_attributes", tmp_path)
    teacher, student = results["teacher"], results["metrics"]
    assert seconds <= 600, seconds
    assert teacher["metrics"]["mean_ap"] >= 2 * results["prevalence_baseline_mean_ap"], teacher["metrics"]
    assert results["mult_adds"] <= 0.1 * teacher["mult_adds"]
    assert student["mean_ap"] >= 0.9 * teacher["metrics"]["mean_ap"], (student, teacher["metrics"])
