"""Using trained models: eval.py reproduces a run's test metrics (checkpoint exactly, ONNX fp32 within 1e-3),
predict.py names its predictions from the file alone and skips unreadable images, export.py round-trips and
quantizes; bad inputs give clear errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_DOGS, TINY_SSD, compose_config
from tasks.core.checkpoint import CheckpointError
from tasks.engine.evaluate import evaluate
from tasks.engine.export import export_model
from tasks.engine.load import load_model
from tasks.engine.predict import predict
from tasks.engine.run import train_and_test

TINY_ATTRIBUTES = [
    "task=face_attributes", "model.distill=false", "data.image_size=32",
    "data.generator={train: 32, val: 12, test: 16, unlabelled: 0, width: 40, height: 48}",
    "data.batch_size=16", "data.num_workers=0", "trainer.max_epochs=2", "latency_repeats=1",
    "callbacks.progress_bar.refresh_rate=0",
]


@pytest.fixture(scope="module")
def dogs_run(tmp_path_factory) -> dict:
    return train_and_test(compose_config(TINY_DOGS, tmp_path_factory.mktemp("dogs_deploy")))


def test_eval_reproduces_the_run_and_onnx_matches(dogs_run, tmp_path):
    run_dir = Path(dogs_run["run_dir"])
    again = evaluate(run_dir, output_dir=tmp_path / "ckpt", latency_repeats=1)
    assert again["metrics"]["top1"] == dogs_run["metrics"]["top1"] and again["format"] == "checkpoint"
    assert json.loads((tmp_path / "ckpt" / "results.json").read_text())["metrics"] == again["metrics"]
    report = export_model(run_dir, tmp_path / "model.onnx", int8=True, calibration_images=16, check_images=4,
                         keep_float=["first_conv", "classifier"])
    assert report["onnx_max_abs_diff"] < 1e-3 and len(report["int8_float_nodes"]) == 2
    onnx_results = evaluate(tmp_path / "model.onnx", output_dir=tmp_path / "onnx", latency_repeats=1)
    assert onnx_results["format"] == "onnx" and onnx_results["params"] == dogs_run["params"]
    for name, value in dogs_run["metrics"].items():
        if name != "loss":
            assert onnx_results["metrics"][name] == pytest.approx(value, abs=1e-3)
    int8 = evaluate(tmp_path / "model.int8.onnx", output_dir=tmp_path / "int8", latency_repeats=1)
    assert 0 <= int8["metrics"]["top1"] <= 1  # its accuracy is measured on the real default, not here
    # the ONNX file carries what predict needs: batch axis dynamic, class names in its metadata
    loaded = load_model(tmp_path / "model.onnx")
    assert loaded.model(torch.zeros(3, 3, 32, 32)).shape == (3, 4)
    assert loaded.model.class_names == load_model(run_dir).model.class_names and len(loaded.model.class_names) == 4


def test_onnx_runs_in_openvino(dogs_run, tmp_path):
    """The optional OpenVINO runtime (the openvino extra, installed by the dev extra) runs the exported file with the same metrics."""
    pytest.importorskip("openvino")
    export_model(dogs_run["run_dir"], tmp_path / "model.onnx", check_images=2)
    openvino = evaluate(tmp_path / "model.onnx", output_dir=tmp_path / "ov", latency_repeats=1, runtime="openvino")
    assert openvino["metrics"]["top1"] == pytest.approx(dogs_run["metrics"]["top1"], abs=1e-3)


def test_predict_folder_names_classes_and_skips_unreadable(dogs_run, tmp_path):
    from PIL import Image
    source = tmp_path / "photos"
    (source / "nested").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (40, 30), (40 * i, 100, 200)).save(source / "nested" / f"{i}.png")
    (source / "broken.jpg").write_bytes(b"not an image")
    predictions = predict(dogs_run["run_dir"], source, tmp_path / "out", top_k=2)
    records = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(records) == 3 and all(len(r["top_k"]) == 2 for r in records)
    names = load_model(dogs_run["run_dir"]).model.class_names
    assert all(r["top_k"][0]["class"] == names[r["top_k"][0]["index"]] for r in records)
    assert not names[0].isdigit()  # breed names, from the checkpoint alone


def test_predict_and_eval_for_attributes_and_detection(tmp_path):
    attributes = train_and_test(compose_config(TINY_ATTRIBUTES, tmp_path / "attr"))
    again = evaluate(attributes["run_dir"], output_dir=tmp_path / "attr_eval", latency_repeats=1)
    assert again["metrics"]["mean_ap"] == attributes["metrics"]["mean_ap"]
    export_model(attributes["run_dir"], tmp_path / "attr.onnx", check_images=4, int8=True, calibration_images=8)
    int8 = evaluate(tmp_path / "attr.int8.onnx", output_dir=tmp_path / "attr_int8_eval", latency_repeats=1)
    assert int8["format"] == "onnx" and 0 <= int8["metrics"]["mean_ap"] <= 1
    source = sorted(Path(load_model(attributes["run_dir"]).config["data"]["root"] or
                         _generated_faces_root()).rglob("*.jpg"))[:3]
    records = [json.loads(x) for x in predict(tmp_path / "attr.onnx", source[0], tmp_path / "p1")
               .read_text().splitlines()]
    assert len(records) == 1 and set(records[0]["attributes"]) == set(attributes["per_attribute"])
    ssd = train_and_test(compose_config(TINY_SSD, tmp_path / "ssd"))
    assert evaluate(ssd["run_dir"], output_dir=tmp_path / "ssd_eval", latency_repeats=1)["metrics"]["AP"] == \
        ssd["metrics"]["AP"]
    images = sorted((Path(load_model(ssd["run_dir"]).config["data"]["root"] or _generated_coco_root())).rglob("*.jpg"))
    records = [json.loads(x) for x in predict(ssd["run_dir"], images[0], tmp_path / "p2", threshold=0.0)
               .read_text().splitlines()]
    assert len(records) == 1 and "detections" in records[0]
    # SSD exports its network (backbone, extra layers, heads); anchors, decoding and NMS run around it in torch
    report = export_model(ssd["run_dir"], tmp_path / "ssd.onnx", check_images=3, int8=True, calibration_images=4,
                         keep_float=["heads"])
    assert report["onnx_max_abs_diff"] < 1e-3
    assert len(report["int8_float_nodes"]) >= 4  # a classification and a box conv per feature map stay float
    onnx_eval = evaluate(tmp_path / "ssd.onnx", output_dir=tmp_path / "ssd_onnx_eval", latency_repeats=1)
    assert onnx_eval["metrics"]["AP"] == pytest.approx(ssd["metrics"]["AP"], abs=0.005)
    int8_eval = evaluate(tmp_path / "ssd.int8.onnx", output_dir=tmp_path / "ssd_int8_eval", latency_repeats=1)
    assert 0 <= int8_eval["metrics"]["AP"] <= 1 and set(int8_eval["per_class"]) == set(ssd["per_class"])
    image = torch.rand(3, 100, 120)
    with torch.inference_mode():
        ours, theirs = load_model(ssd["run_dir"]).model(image[None]), load_model(tmp_path / "ssd.onnx").model(image[None])
    assert same_detections(ours[0], theirs[0])


def test_faster_rcnn_exports_as_two_networks(tmp_path):
    """Faster R-CNN: backbone + RPN head, and the box head, as two ONNX files; proposals, RoIAlign and NMS run
    around them in torch: the same detections and AP as the checkpoint."""
    from conftest import TINY_DETECTION
    tiny = ["task=faster_rcnn", "model.detector.min_size=96", "model.detector.max_size=128",
            "model.detector.box_batch_size_per_image=32", *TINY_DETECTION]
    run = train_and_test(compose_config(tiny, tmp_path / "frcnn"))
    # one epoch leaves the heads' scores tied (which box comes first is then arbitrary): spread them
    from tasks.engine.load import resolve_model_path
    path = resolve_model_path(run["run_dir"])  # last.ckpt: one epoch has no validation, so no best.ckpt
    checkpoint = torch.load(path, weights_only=False)
    generator = torch.Generator().manual_seed(0)
    for key, value in checkpoint["state_dict"].items():
        if ("box_predictor" in key or "rpn.head" in key) and value.is_floating_point():
            value.add_(torch.randn(value.shape, generator=generator) * 0.3)
    torch.save(checkpoint, path)
    report = export_model(run["run_dir"], tmp_path / "frcnn.onnx", check_images=3, int8=True, calibration_images=4,
                         keep_float=["heads"])
    assert report["onnx_max_abs_diff"] < 1e-3 and (tmp_path / "frcnn.box_head.onnx").is_file()
    # int8: both networks quantized (the box head calibrated on the proposals' crops), each one's heads in float
    import onnx
    head_int8 = onnx.load(str(tmp_path / "frcnn.int8.box_head.onnx"))
    assert any(n.op_type == "DequantizeLinear" for n in head_int8.graph.node)
    assert {"class_logits", "box_regression"} <= {o.name for o in head_int8.graph.output}
    assert any("cls_score" in n or "bbox_pred" in n for n in report["int8_float_nodes"])
    assert any("rpn" in n.lower() for n in report["int8_float_nodes"])
    int8_eval = evaluate(tmp_path / "frcnn.int8.onnx", output_dir=tmp_path / "int8_eval", latency_repeats=1)
    assert 0 <= int8_eval["metrics"]["AP"] <= 1  # its accuracy is measured in the benchmark, not here
    ckpt_eval = evaluate(run["run_dir"], output_dir=tmp_path / "ckpt_eval", latency_repeats=1)
    onnx_eval = evaluate(tmp_path / "frcnn.onnx", output_dir=tmp_path / "eval", latency_repeats=1)
    assert onnx_eval["metrics"]["AP"] == pytest.approx(ckpt_eval["metrics"]["AP"], abs=0.005)
    image = torch.rand(3, 100, 120)
    with torch.inference_mode():
        ours, theirs = load_model(run["run_dir"]).model(image[None]), load_model(tmp_path / "frcnn.onnx").model(
            image[None])
    assert same_detections(ours[0], theirs[0])


def _tiny_embedding() -> list[str]:
    from test_face_embedding import TINY_IDENTITIES
    return ["task=face_embedding_teacher", *TINY_IDENTITIES]


def _tiny_geolocation() -> list[str]:
    from test_geolocation import TINY_WORLD
    return TINY_WORLD


@pytest.mark.parametrize("task", ["face_embedding", "geolocation"])
def test_int8_export_loads_back_and_runs(task, tmp_path):
    """int8=true for the tasks not exported above (face embedding: its L2 normalisation once made onnxruntime's
    shape inference fail inside quant_pre_process): the int8 file loads back and evaluates with the run's
    metrics, its outputs near the checkpoint's."""
    tiny = {"face_embedding": _tiny_embedding, "geolocation": _tiny_geolocation}[task]()
    run = train_and_test(compose_config(tiny, tmp_path / "run"))
    report = export_model(run["run_dir"], tmp_path / "model.onnx", check_images=4, int8=True, calibration_images=8)
    assert report["onnx_int8"] == str(tmp_path / "model.int8.onnx") and report["int8_max_abs_diff"] < 1.0
    int8 = evaluate(tmp_path / "model.int8.onnx", output_dir=tmp_path / "int8_eval", latency_repeats=1)
    assert int8["format"] == "onnx" and set(int8["metrics"]) == set(run["metrics"])
    from tasks.engine.export import sample_images
    ours = load_model(run["run_dir"])
    images = ours.model.collate(sample_images(ours, "test", 4))
    with torch.inference_mode():
        theirs = load_model(tmp_path / "model.int8.onnx").model(images)
    assert theirs.shape == ours.model(images).shape and torch.isfinite(theirs).all()


def same_detections(ours: dict, theirs: dict) -> bool:
    """The same detections up to the order of (near-)equal scores: every box has a twin of the same label and
    score within a pixel; boxes scoring within 1e-3 of the lowest kept one are left out (at the per-image cap,
    which of two near-tied boxes is kept is arbitrary)."""
    if len(ours["boxes"]) != len(theirs["boxes"]):
        return False
    clear = ours["scores"] > ours["scores"].min() + 1e-3 if len(ours["scores"]) else ours["scores"].bool()
    for box, label, score in zip(ours["boxes"][clear], ours["labels"][clear], ours["scores"][clear]):
        twins = (theirs["labels"] == label) & ((theirs["scores"] - score).abs() < 1e-4)
        if not ((theirs["boxes"][twins] - box).abs().max(-1).values <= 1.0).any():
            return False
    return True


def _generated_faces_root() -> Path:
    from data.generate.faces import ensure_faces
    return ensure_faces({"train": 32, "val": 12, "test": 16, "unlabelled": 0, "width": 40, "height": 48})


def _generated_coco_root() -> Path:
    from data.generate.coco_shapes import ensure_coco_shapes
    return ensure_coco_shapes({"train_images": 12, "val_images": 6, "min_side": 96, "max_side": 112})


def test_bad_inputs(tmp_path, dogs_run):
    with pytest.raises(CheckpointError, match="no such file or folder"):
        load_model(tmp_path / "missing.ckpt")
    (tmp_path / "corrupt.ckpt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*corrupt.ckpt"):
        load_model(tmp_path / "corrupt.ckpt")
    foreign = tmp_path / "foreign.onnx"
    torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), str(foreign), dynamo=False)
    with pytest.raises(CheckpointError, match="lacks this suite's metadata"):
        load_model(foreign)
    from data.errors import DatasetError
    with pytest.raises(DatasetError, match="source=.*nowhere"):
        predict(dogs_run["run_dir"], tmp_path / "nowhere", tmp_path / "out")


def test_prediction_in_parts_with_a_killed_part_rerun_equals_one_job(dogs_run, tmp_path):
    """A file list predicted in 3 parts (as array jobs), one part killed before its file was complete: the rerun
    predicts that part only, and the merged output is the one job's output."""
    from PIL import Image
    names = []
    for i in range(7):
        Image.new("RGB", (40, 36), (30 * i, 200 - 20 * i, 90)).save(tmp_path / f"{i}.png")
        names.append(f"{i}.png")
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(names) + "\n")
    one = predict(dogs_run["run_dir"], listing, tmp_path / "one", batch_size=2)
    parts = tmp_path / "parts"
    for part in (0, 2):
        assert predict(dogs_run["run_dir"], listing, parts, batch_size=2, parts=3, part=part) is None
    (parts / "parts" / ".part-00001-of-00003.jsonl.999.tmp").write_text('{"image": "half written')  # killed
    done = {p.name: p.stat().st_mtime_ns for p in (parts / "parts").glob("part-*.jsonl")}
    merged = predict(dogs_run["run_dir"], listing, parts, batch_size=2, parts=3)
    assert merged.read_text() == one.read_text() and len(merged.read_text().splitlines()) == 7
    assert all((parts / "parts" / name).stat().st_mtime_ns == t for name, t in done.items())  # not redone


def test_command_lines(dogs_run, tmp_path):
    """The three entry points parse key=value arguments and run (here: predict on one image; usage errors)."""
    from PIL import Image
    Image.new("RGB", (32, 32)).save(tmp_path / "one.png")
    done = subprocess.run([sys.executable, "predict.py", f"ckpt={dogs_run['run_dir']}", f"source={tmp_path / 'one.png'}",
                           f"output_dir={tmp_path / 'out'}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 images predicted (0 unreadable, skipped)" in done.stdout
    bad = subprocess.run([sys.executable, "eval.py", "ckpt=x", "colour=red"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown option 'colour'" in bad.stderr


def test_pip_install_and_the_three_line_api(dogs_run, tmp_path):
    """`pip install -e .` in a fresh venv makes the suite importable from anywhere (no sys.path edits), and the
    README's three lines give exactly predict.py's records."""
    import sysconfig

    from PIL import Image
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies (torch, ..., and the build backend) come from this environment: a plain path entry, whose own
    # .pth files (this checkout's editable install among them) are not run; this pip installs into the new venv
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert subprocess.run([str(python), "-c", "import tasks"], cwd=tmp_path, capture_output=True).returncode != 0
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                              "--no-build-isolation", "--no-index", "-e", str(REPO)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    image = tmp_path / "photo.png"
    Image.new("RGB", (48, 40), (180, 120, 60)).save(image)
    code = ("import json, tasks\n"
            "from tasks.engine import load\n"
            f"model = load({str(dogs_run['run_dir'])!r})\n"
            f"records = model([{str(image)!r}])\n"
            "print(json.dumps({'where': tasks.__file__, 'records': records}))\n")
    done = subprocess.run([str(python), "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(answer["where"]).resolve().parent == REPO / "tasks"
    expected = [json.loads(line) for line in predict(dogs_run["run_dir"], image, tmp_path / "out").read_text()
                .splitlines()]
    assert [{"image": str(image), **r} for r in answer["records"]] == expected


def test_every_format_module_keeps_the_contract():
    """tasks.engine.formats' docstring lists what a format module provides; the engine, compare and the benchmarks
    read these names from every one of them."""
    from tasks.engine.formats import FORMATS
    for name, module in FORMATS.items():
        for attribute in ("SUFFIX", "RUNTIME", "RUNTIMES", "EXTRA", "DYNAMIC_BATCH", "QAT", "write", "write_metadata",
                          "read_metadata", "quantize"):
            assert hasattr(module, attribute), f"format {name} lacks {attribute}"
        assert module.RUNTIME is not None or hasattr(module, "validate"), name
        assert module.RUNTIME is None or module.RUNTIME in module.RUNTIMES, name


def test_prediction_over_a_shard_folder_in_parts_names_each_record_by_its_file(dogs_run, tmp_path):
    """predict.py on a shard folder (prepare.py's <out>/train): one record per sample, named by the file it was
    written from, in parts that merge into the one job's output; each equals the prediction for the record's
    image decoded independently (PIL from the record's bytes)."""
    import io
    from hydra.utils import instantiate
    from litdata import StreamingDataset
    from PIL import Image
    from tasks.engine.predict import Predictor
    dm = instantiate(compose_config(TINY_DOGS).data, _convert_="all")
    dm.write_shards(tmp_path / "shards", "train", part_size=40, num_workers=1)
    folder = tmp_path / "shards" / "train"
    one = predict(dogs_run["run_dir"], folder, tmp_path / "one", batch_size=8)
    for part in (2, 0, 1):
        predict(dogs_run["run_dir"], folder, tmp_path / "parts", batch_size=8, parts=3, part=part)
    merged = predict(dogs_run["run_dir"], folder, tmp_path / "parts", batch_size=8, parts=3)
    assert merged.read_text() == one.read_text()
    from data.errors import DatasetError
    with pytest.raises(DatasetError, match=r"a folder prepare.py wrote; pass one of its splits, e.g. source=.*train"):
        predict(dogs_run["run_dir"], tmp_path / "shards", tmp_path / "no")
    predicted = [json.loads(line) for line in one.read_text().splitlines()]
    written = list(StreamingDataset(str(folder)))
    names = [bytes(r["name"]).decode() for r in written]
    assert [p["image"] for p in predicted] == names
    assert sorted(names) == sorted(str(s[0]) for s in dm.split_samples["train"])
    again = Predictor(load_model(dogs_run["run_dir"]))([Image.open(io.BytesIO(r["image"])).convert("RGB")
                                                        for r in written[:6]])
    assert [{k: v for k, v in p.items() if k != "image"} for p in predicted[:6]] == again
