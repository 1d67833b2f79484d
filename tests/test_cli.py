"""Every entry point ends a user's mistake with one line (what, which key/file, the fix) and exit code 2, keeps
the traceback in a file, and answers --help with its keys and examples."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import REPO, TINY_DOGS, TINY_SSD, compose_config
from tasks.engine.config import ConfigError, compose
from tasks.engine.errors import one_line
from tasks.engine.run import train_and_test


def run(script: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def in_process(script: str, *args: str) -> subprocess.CompletedProcess:
    """An entry point's `main` under its `guard`, in this process (as `run` gives it, without the interpreter's
    start-up): exit code and stderr."""
    import contextlib
    import importlib.util
    import io
    from tasks.engine.errors import guard
    spec = importlib.util.spec_from_file_location(f"entry_{Path(script).stem}", REPO / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stderr, stdout = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            guard(Path(script).stem, lambda: module.main(list(args)))
        except SystemExit as exit_:
            code = exit_.code
    return subprocess.CompletedProcess([script, *args], code, stdout.getvalue(), stderr.getvalue())


def one_error_line(done: subprocess.CompletedProcess, code: int = 2) -> str:
    """The failure's only stderr line (asserting that there is one, and the exit code)."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert "\\n" not in lines[0] and "\\'" not in lines[0] and "Traceback" not in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def dogs_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("dogs_run")
    train_and_test(compose_config([*TINY_DOGS, "trainer.max_epochs=1", "logger=none"], run_dir))
    return run_dir


def test_train_bad_config_is_one_line_exit_2(tmp_path):
    """From the command line: one line, exit 2 (the other bad values below take the same path in-process)."""
    line = one_error_line(run("train.py", "task=dogs", "data.batch_szie=3", f"hydra.run.dir={tmp_path}"))
    assert "data.batch_szie: no such config key; did you mean data.batch_size?" in line


@pytest.mark.parametrize("override, expected", [
    ("task=dogz", "Could not find 'task/dogz'; available: dogs, face_attributes"),
    ("data.image_size=0", "data.image_size=0: must be an integer >= 1"),
    ("model.optimizer.lr=-0.1", "model.optimizer.lr=-0.1: must be a number > 0"),
    ("trainer.max_epochs=two", "trainer.max_epochs='two': must be an integer >= -1"),
])
def test_bad_config_values_are_named(tmp_path, override, expected):
    from tasks.engine.errors import exit_code
    with pytest.raises(Exception) as caught:
        train_and_test(compose_config(["task=dogs", override], tmp_path))
    assert expected in one_line(caught.value) and exit_code(caught.value) == 2
    assert not (tmp_path / "checkpoints").exists()  # checked before anything is generated or trained


def test_train_failure_keeps_the_traceback_in_the_run_folder(tmp_path):
    line = one_error_line(run("train.py", "task=dogs", "data.root=/no/such/folder", f"hydra.run.dir={tmp_path}"))
    assert "/no/such/folder" in line
    assert "Traceback" in (tmp_path / "error.txt").read_text()
    assert json.loads((tmp_path / "failure.json").read_text())["error"] == line.removeprefix("error: ")


def test_eval_predict_export_bad_inputs(dogs_run, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\n")
    not_ckpt = tmp_path / "model.ckpt"
    not_ckpt.write_text("hello")
    line = one_error_line(run("eval.py", f"ckpt={not_ckpt}"))  # one from the command line, the rest in-process
    assert str(not_ckpt) in line and "not a PyTorch checkpoint" in line and "weights_only" not in line
    line = one_error_line(in_process("eval.py", f"ckpt={dogs_run}", "data.batch_szie=8"))
    assert "data.batch_szie: no such key in the run's config; did you mean data.batch_size?" in line
    line = one_error_line(in_process("eval.py", f"ckpt={dogs_run}", "data.image_size=-3"))
    assert "data.image_size=-3: must be an integer >= 1" in line
    line = one_error_line(in_process("predict.py", f"ckpt={dogs_run}", f"source={notes}",
                                     f"output_dir={tmp_path / 'p'}"))
    assert "no readable image" in line and str(notes) in line
    assert not (tmp_path / "p").exists()
    line = one_error_line(in_process("predict.py", f"ckpt={dogs_run}", "source=x.jpg", "top_k=0"))
    assert "top_k=0: must be an integer >= 1" in line
    line = one_error_line(in_process("export.py", f"ckpt={dogs_run}", "format=tflite"))
    assert "format=tflite: not a format; one of onnx" in line
    line = one_error_line(in_process("eval.py", f"ckpt={dogs_run}", "ckp=3"))
    assert "unknown option 'ckp': did you mean ckpt?" in line
    line = one_error_line(in_process("compare.py", str(tmp_path / "missing")))
    assert "no such folder of runs" in line
    line = one_error_line(in_process("paper_tables.py", "99"))
    assert "no such table" in line
    line = one_error_line(in_process("benchmarks/throughput.py", "--rounds", "0"))
    assert "--rounds, --iters and --batch-size must be >= 1" in line


@pytest.mark.parametrize("script, expected", [
    ("eval.py", "data.root=/my/coco_export"), ("predict.py", "threshold"), ("export.py", "int8"),
    ("train.py", "task: dogs, face_attributes"), ("compare.py", "--measure"), ("paper_tables.py", "table"),
    ("budget.py", "budget_ms"), ("prepare.py", "prepare.part_size"),
])
def test_help(script, expected):
    done = run(script, "--help") if script in ("train.py", "prepare.py") else in_process(script, "--help")
    assert done.returncode == 0 and expected in done.stdout, done.stderr[-2000:]
    if script not in ("compare.py", "paper_tables.py"):  # argparse's own help
        assert done.stdout.lower().count("python ") >= 4  # usage and three examples
    if script == "train.py":
        assert "mobilenet_v1_025" in done.stdout  # the backbones


def test_evaluating_a_model_on_data_with_other_classes_is_refused(dogs_run, tmp_path):
    """The dogs model knows 4 classes; data with 3 is refused before any metric is computed."""
    done = in_process("eval.py", f"ckpt={dogs_run}",
                      "data.generator={num_classes: 3, train_per_class: 4, test_per_class: 2, image_size: 48}",
                      f"output_dir={tmp_path}")
    line = one_error_line(done)
    assert "was trained on 4 classes but the data (the embedded default) has 3 classes" in line


def test_a_detector_on_coco_data_with_fewer_categories_is_refused(tmp_path):
    trained = train_and_test(compose_config([*TINY_SSD, "logger=none", "test=false", "trainer.limit_train_batches=1"],
                                            tmp_path / "run"))
    root = tmp_path / "coco"
    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    Image.new("RGB", (96, 96), (200, 30, 30)).save(root / "val2017" / "a.jpg")
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 96, "height": 96}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 30], "area": 900,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": "circle"}, {"id": 2, "name": "square"}]}))
    done = in_process("eval.py", f"ckpt={trained['run_dir']}", f"data.root={root}", f"output_dir={tmp_path / 'eval'}")
    line = one_error_line(done)
    assert "was trained on 6 classes" in line and f"({root}) has 2 classes" in line


def test_missing_runtime_is_one_line(monkeypatch, tmp_path):
    from tasks.core.runtime import RuntimeChoiceError, open_session
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    with pytest.raises(RuntimeChoiceError, match=r"pip install -e '\.\[openvino\]'"):
        open_session(tmp_path / "model.onnx", "openvino")
    with pytest.raises(RuntimeChoiceError, match="runtime=tensorrt: not a runtime"):
        open_session(tmp_path / "model.onnx", "tensorrt")


def test_composition_errors_read_as_one_plain_line():
    with pytest.raises(Exception) as caught:
        compose(["data.batch_szie=3"])
    assert one_line(caught.value).startswith("data.batch_szie: no such config key; did you mean data.batch_size?")
    with pytest.raises(ConfigError):
        from tasks.engine.config import check_values
        check_values({"data": {"image_size": 0}})


def test_eval_results_have_train_keys_and_say_what_they_are(dogs_run, tmp_path):
    from tasks.engine.evaluate import evaluate
    results = evaluate(dogs_run, output_dir=tmp_path, latency_repeats=1)
    trained = json.loads((dogs_run / "results.json").read_text())
    assert results["kind"] == "evaluation" and trained["kind"] == "training"
    for key in ("task", "backbone", "image_size", "status", "headline", "metrics_split", "skipped_images"):
        assert results[key] == trained[key], key
    assert results["metrics"]["top1"] == pytest.approx(trained["metrics"]["top1"])
