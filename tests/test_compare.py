"""The comparison report: a real multirun with a failing job, Pareto marks against a brute-force reference, the
CLI across sweeps, and runs that never finished."""
from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.engine.config import ConfigError

from tasks.engine import compare

from conftest import REPO, TINY_DOGS

PLOTS = {"top1_vs_mult_adds.png", "top1_vs_latency_ms.png", "validation_curves.png"}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """`python train.py -m` over two widths and a third, impossible one (alpha = -1): two runs, one failure."""
    folder = tmp_path_factory.mktemp("sweep")
    done = subprocess.run([sys.executable, "train.py", "-m", *TINY_DOGS, "backbone.width_mult=0.25,-1,0.5",
                           "throughput_batch=4", f"hydra.sweep.dir={folder}"],
                          cwd=REPO, env=os.environ, capture_output=True, text=True)
    return folder, done


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_multirun_ends_with_the_report_and_the_failure_in_it(sweep):
    folder, done = sweep
    # Hydra runs every job, then exits with the failed job's error: the report is written all the same
    assert done.returncode != 0, done.stdout[-2000:]
    assert "error: backbone.width_mult=-1: must be a number > 0" in done.stderr
    assert {"comparison.md", "comparison.csv", *PLOTS} <= {p.name for p in folder.iterdir()}
    rows = read_csv(folder / "comparison.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]  # finished runs first, by headline
    failed = rows[2]
    assert failed["backbone"] == "mobilenet_v1_-1" and failed["run_dir"] == str(folder / "1")
    assert failed["error"] == "backbone.width_mult=-1: must be a number > 0"  # the error's one line
    assert "Traceback" in (folder / "1" / "error.txt").read_text()
    table = (folder / "comparison.md").read_text()
    assert "**failed**: backbone.width_mult=-1: must be a number > 0" in table
    for png in PLOTS:
        assert f"]({png})" in table and (folder / png).read_bytes()[:4] == b"\x89PNG"


def test_table_matches_each_runs_results_and_is_sorted_by_the_headline(sweep):
    folder, _ = sweep
    rows = [r for r in read_csv(folder / "comparison.csv") if r["status"] == "ok"]
    for row in rows:
        results = json.loads((Path(row["run_dir"]) / "results.json").read_text())
        assert results["headline"] == {"metric": "top1", "mode": "max"}
        assert row["headline_metric"] == "top1" and float(row["headline"]) == results["metrics"]["top1"]
        for key in ("params", "mult_adds", "latency_ms", "train_seconds"):
            assert float(row[key]) == pytest.approx(results[key])
        assert float(row["throughput"]) == pytest.approx(results["throughput_ips"]) and results["throughput_batch"] == 4
    headlines = [float(r["headline"]) for r in rows]
    assert headlines == sorted(headlines, reverse=True)
    assert {r["backbone"] for r in rows} == {"mobilenet_v1_0.25", "mobilenet_v1_0.5"}


def brute_force_front(points: list[tuple[float, float]]) -> set[int]:
    """Indices of (metric, cost) points no other point beats or ties on both and strictly beats on one."""
    return {i for i, (m, c) in enumerate(points)
            if not any(m2 >= m and c2 <= c and (m2 > m or c2 < c) for j, (m2, c2) in enumerate(points) if j != i)}


def test_pareto_marks_of_the_sweep_match_a_brute_force_front(sweep):
    folder, _ = sweep
    rows = [r for r in read_csv(folder / "comparison.csv") if r["status"] == "ok"]
    for cost, name in compare.COSTS.items():
        front = brute_force_front([(float(r["headline"]), float(r[cost])) for r in rows])
        assert {i for i, r in enumerate(rows) if name in r["pareto"].split(", ")} == front
    assert any(r["pareto"] for r in rows)  # a non-empty set always has a front


def test_pareto_marks_on_many_runs_and_a_lower_is_better_headline():
    import random
    rng = random.Random(0)
    rows = [{"status": "ok", "headline_metric": "m", "headline_mode": "max", "headline": rng.choice([0.1, 0.2, 0.3]),
             "mult_adds": rng.choice([1, 2, 3, 4]), "latency_ms": rng.random(), "run_dir": str(i)} for i in range(30)]
    rows.append({"status": "failed", "headline": None, "headline_metric": "m", "run_dir": "x"})
    compare.mark_pareto(rows)
    front = brute_force_front([(r["headline"], r["mult_adds"]) for r in rows[:30]])
    assert {i for i, r in enumerate(rows) if "mult-adds" in r["pareto"]} == front and rows[30]["pareto"] == ""
    # median error in km: lower is better, so the front flips
    low = [{"status": "ok", "headline_metric": "median_km", "headline_mode": "min", "headline": h, "mult_adds": c,
            "latency_ms": None, "run_dir": str(i)} for i, (h, c) in enumerate([(900, 10), (1000, 5), (1200, 20)])]
    compare.mark_pareto(low)
    assert [r["pareto"] for r in low] == ["mult-adds", "mult-adds", ""]
    assert [r["headline"] for r in compare.sort_rows(low)] == [900, 1000, 1200]


def test_cli_rebuilds_one_report_across_sweeps(sweep, tmp_path, capsys):
    folder, _ = sweep
    other = tmp_path / "other_sweep"
    (other / "0").mkdir(parents=True)
    results = json.loads((folder / "0" / "results.json").read_text())
    results.update({"backbone": "resnet50", "metrics": {**results["metrics"], "top1": 0.9},
                    "mult_adds": results["mult_adds"] * 40, "latency_ms": results["latency_ms"] * 10,
                    "run_dir": str(other / "0")})
    (other / "0" / "results.json").write_text(json.dumps(results))
    out = tmp_path / "report"
    compare.main([str(folder), str(other), "--out", str(out)])
    rows = read_csv(out / "comparison.csv")
    assert len(rows) == 4 and rows[0]["backbone"] == "resnet50" and rows[0]["pareto"] == "mult-adds, latency"
    assert "resnet50" in capsys.readouterr().out and (out / "top1_vs_mult_adds.png").is_file()
    with pytest.raises(ConfigError, match="several folders"):  # several folders need --out
        compare.main([str(folder), str(other)])
    with pytest.raises(ConfigError, match="no such folder"):
        compare.main([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no runs"):
        compare.main([str(tmp_path / "empty")])


def test_a_job_that_never_finished_is_listed_as_unfinished(sweep, tmp_path):
    folder, _ = sweep
    killed = tmp_path / "killed"
    (killed / ".hydra").mkdir(parents=True)
    (killed / ".hydra" / "overrides.yaml").write_text("- task=dogs\n")
    (killed / ".hydra" / "config.yaml").write_text("task_name: dogs\ndata:\n  image_size: 32\n")
    compare.write_report([folder, killed], tmp_path / "report")
    rows = read_csv(tmp_path / "report" / "comparison.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "unfinished"]
    assert rows[3]["run_dir"] == str(killed) and rows[3]["image_size"] == "32"


def test_validation_curves_come_from_each_runs_metrics_csv(sweep):
    folder, _ = sweep
    row = next(r for r in read_csv(folder / "comparison.csv") if r["status"] == "ok")
    column, epochs, values = compare._validation_curve({**row, "monitor_metric": None})
    logged = [r for r in read_csv(Path(row["run_dir"]) / "csv" / "metrics.csv") if r.get("val/top1")]
    assert column == "val/top1" and epochs == [1.0, 2.0] and values == [float(r["val/top1"]) for r in logged]


def test_front_helper_is_itself_right():
    assert brute_force_front([(1, 1), (1, 1)]) == {0, 1}  # ties: neither strictly better
    assert brute_force_front([(1, 2), (2, 1), (0, 0), (0, 3)]) == {1, 2}
    for points in itertools.permutations([(0.5, 3), (0.6, 4), (0.4, 1)]):
        assert len(brute_force_front(list(points))) == 3


def test_the_slurm_launcher_composes_for_a_multi_node_ddp_sweep():
    """What this machine can check of hydra/launcher=slurm: it composes into submitit's SLURM launcher with the
    README's multi-node DDP settings, next to trainer=ddp."""
    from hydra.utils import get_class

    from tasks.engine.config import compose
    cfg = compose(["hydra/launcher=slurm", "hydra.launcher.nodes=2", "hydra.launcher.tasks_per_node=4",
                   "hydra.launcher.gpus_per_node=4", "trainer=ddp", "trainer.num_nodes=2", "trainer.devices=4"],
                  return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.num_nodes * cfg.trainer.devices == 8


def test_measure_retimes_every_finished_run_from_its_checkpoint(sweep, tmp_path):
    folder, _ = sweep
    compare.main([str(folder), "--out", str(tmp_path), "--measure"])
    rows = read_csv(tmp_path / "comparison.csv")
    finished = [r for r in rows if r["status"] == "ok"]
    assert all(r["measured"] == "together" and float(r["latency_ms"]) > 0 and float(r["throughput"]) > 0
               for r in finished)
    assert all(r["checkpoint"].endswith("best.ckpt") for r in finished)
    assert [r["measured"] for r in rows if r["status"] != "ok"] == [""]
    assert "re-measured together in one process" in (tmp_path / "comparison.md").read_text()


def test_measure_in_the_runtime_a_model_ships_in(sweep, tmp_path):
    """--measure --runtime R --int8: every finished run exported as int8 for R, timed there; the file size and the
    latency measured there are the report's costs."""
    folder, _ = sweep
    compare.main([str(folder), "--out", str(tmp_path), "--measure", "--runtime", "onnxruntime", "--int8"])
    finished = [r for r in read_csv(tmp_path / "comparison.csv") if r["status"] == "ok"]
    assert len(finished) == 2
    assert all(r["measured"] == "onnxruntime int8" and float(r["latency_ms"]) > 0 and float(r["file_mb"]) > 0
               for r in finished)
    assert "exported as onnx int8 and run in onnxruntime" in (tmp_path / "comparison.md").read_text()
    with pytest.raises(ConfigError, match="--runtime tensorrt: no export format runs in it"):
        compare.main([str(folder), "--out", str(tmp_path), "--measure", "--runtime", "tensorrt"])
    with pytest.raises(ConfigError, match="go with --measure"):
        compare.main([str(folder), "--out", str(tmp_path), "--int8"])


def test_a_failed_run_finished_later_counts_as_finished(sweep, tmp_path):
    """A run folder with both records (failed, then resumed to the end): the newer one is the run's state."""
    import shutil
    import time
    run = tmp_path / "run"
    shutil.copytree(sweep[0] / "0", run)
    (run / compare.FAILURE_FILE).write_text(json.dumps({"status": "failed", "error": "KeyboardInterrupt: "}))
    assert [r["status"] for r in compare.collect([run])] == ["failed"]
    time.sleep(0.01)
    (run / "results.json").write_text((run / "results.json").read_text())
    assert [r["status"] for r in compare.collect([run])] == ["ok"]


def test_a_paper_table_sweep_runs_from_its_config_and_shares_one_teacher(tmp_path):
    """experiment=paper_table12 (its grid in hydra.sweeper.params, narrowed on the command line): two students
    distilled from one teacher trained once in <sweep>/teacher, which is a row of the report."""
    from test_face_attributes import TINY_FACES, TINY_TEACHER_OVERRIDES
    done = subprocess.run([sys.executable, "train.py", "-m", "experiment=paper_table12", *TINY_FACES,
                           TINY_TEACHER_OVERRIDES, "backbone.width_mult=0.25,0.5", "data.image_size=32",
                           "throughput_batch=2", f"hydra.sweep.dir={tmp_path}"],
                          cwd=REPO, env=os.environ, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("stage 1: training the teacher") == 1 and "reusing" in done.stdout + done.stderr
    rows = read_csv(tmp_path / "comparison.csv")
    assert sorted((r["task"], r["backbone"], r["image_size"]) for r in rows) == [
        ("face_attributes", "mobilenet_v1_0.25", "32"), ("face_attributes", "mobilenet_v1_0.5", "32"),
        ("face_attributes_teacher", "mobilenet_v1_0.25", "40")]
    for job in ("0", "1"):
        teacher = json.loads((tmp_path / job / "results.json").read_text())["teacher"]
        assert teacher["run_dir"] == str(tmp_path / "teacher")
    assert {r["headline_metric"] for r in rows} == {"mean_ap"} and (tmp_path / "mean_ap_vs_mult_adds.png").is_file()


def test_evaluations_and_metrics_from_another_split_are_labelled(sweep, tmp_path):
    """An eval.py folder is a row labelled as an evaluation; metrics not from a disjoint test split say where
    they come from, in the table and its footnote."""
    folder, _ = sweep
    results = json.loads((folder / "0" / "results.json").read_text())
    for name, extra in [("evaluation", {"kind": "evaluation"}),
                        ("coco_like", {"metrics_split": "val (no test split in the data; the checkpoint was also "
                                                        "selected on it)"})]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({**results, **extra}))
    compare.write_report([tmp_path], tmp_path)
    table = (tmp_path / "comparison.md").read_text()
    assert "| dogs (evaluation) |" in table
    assert table.count("(val†)") == 1 and f"† {tmp_path / 'coco_like'}: metrics from val (no test split" in table
    rows = {Path(r["run_dir"]).name: r for r in read_csv(tmp_path / "comparison.csv")}
    assert rows["evaluation"]["kind"] == "evaluation" and rows["coco_like"]["kind"] == "training"
