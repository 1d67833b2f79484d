"""Sharded data (prepare.py, data.source=shards) and exact resume: every training sample written once and read
once per epoch across ranks, conversions that resume, one-line errors for broken shard folders, and runs killed
with SIGKILL mid-epoch that resume to the uninterrupted run's weights, for the shards and the decoded cache."""
from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from hydra.utils import instantiate

from conftest import REPO, TINY_DETECTION, TINY_DOGS, TINY_SSD, compose_config, tiny_overrides
from data.errors import DatasetError
from data.shards import ShardRecord, check_shards, open_shards, samples_fingerprint
from tasks.distill import TeacherError

TINY = [*TINY_DOGS, "trainer.max_epochs=3", "logger=none", "test=false",
        "callbacks.last_checkpoint.every_n_train_steps=2"]


def datamodule(*overrides: str):
    return instantiate(compose_config([*TINY_DOGS, *overrides]).data, _convert_="all")


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """The tiny dogs training split written as shards (as prepare.py does), in parts of 20 records."""
    out = tmp_path_factory.mktemp("shards")
    datamodule().write_shards(out, "train", part_size=20, num_workers=2)
    return out


def records(folder: Path) -> list[dict]:
    from litdata import StreamingDataset
    return list(StreamingDataset(str(folder / "train")))


def test_prepare_writes_every_training_sample_once_in_a_seeded_order(shards):
    dm = datamodule()
    dm.setup()
    samples = dm.split_samples["train"]
    manifest = check_shards(shards / "train", samples_fingerprint(samples))
    assert manifest["count"] == len(samples) and manifest["class_names"] == dm.class_names
    written = records(shards)
    ids = [r["id"] for r in written]
    assert sorted(ids) == list(range(len(samples))) and ids != sorted(ids)  # each once, shuffled
    for record in written[:10]:
        assert record["label"] == samples[record["id"]][1]
        image = torch.tensor(bytearray(record["image"]), dtype=torch.uint8)
        from torchvision.io import decode_jpeg
        assert decode_jpeg(image).shape[0] == 3
    assert not (shards / ".parts").exists()  # parts removed once merged


def test_an_interrupted_conversion_resumes_at_its_missing_parts(tmp_path, caplog):
    dm = datamodule()
    assert dm.write_shards(tmp_path, "train", part_size=20, part=1) is None  # an array job's part
    assert not (tmp_path / "train").exists()  # not complete: nothing that looks like a dataset
    with caplog.at_level(logging.INFO, logger="data.shards"):
        folder = dm.write_shards(tmp_path, "train", part_size=20)
    written = [r.getMessage() for r in caplog.records if "writing part" in r.getMessage()]
    assert written and not any("part 2/" in m for m in written), written  # part 1 (the 2nd) was reused
    assert sorted(r["id"] for r in records(tmp_path)) == list(range(check_shards(folder)["count"]))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="data.shards"):
        dm.write_shards(tmp_path, "train", part_size=20)
    assert any("complete already" in r.getMessage() for r in caplog.records)


def test_an_unreadable_image_is_named_and_nothing_looks_complete(tmp_path):
    images = tmp_path / "photos"
    for name in ("a", "b"):
        (images / name).mkdir(parents=True)
        for i in range(6):
            from PIL import Image
            Image.new("RGB", (40, 30), (40 * i, 0, 0)).save(images / name / f"{i}.jpg")
    dm = instantiate(compose_config(["task=dogs", "data=image_folder", f"data.root={images}",
                                     "data.num_workers=0"]).data, _convert_="all")
    dm.setup()
    bad = Path(dm.split_samples["train"][0][0])
    bad.write_bytes(b"not an image at all")  # broken after the check: only the conversion sees it
    with pytest.raises(DatasetError, match=rf"{bad}: cannot read image"):
        dm.write_shards(tmp_path / "out", "train", part_size=4)
    assert not (tmp_path / "out" / "train").exists()


@pytest.mark.parametrize("damage, message", [
    ("manifest", r"manifest.json: no manifest"),
    ("chunk", r"chunk-0-1.bin: chunk missing"),
    ("truncate", r"chunk-0-0.bin: \d+ bytes where .*index.json says \d+ \(truncated"),
    ("count", r"manifest.json: says 7 records but the chunks"),
    ("other data", r"manifest.json: these shards hold another sample list"),
])
def test_a_broken_shard_folder_is_one_error_naming_the_file(shards, tmp_path, damage, message):
    folder = tmp_path / "copy"
    shutil.copytree(shards, folder)
    train = folder / "train"
    fingerprint = json.loads((train / "manifest.json").read_text())["fingerprint"]
    if damage == "manifest":
        (train / "manifest.json").unlink()
    elif damage == "chunk":
        (train / "chunk-0-1.bin").unlink()
    elif damage == "truncate":
        data = (train / "chunk-0-0.bin").read_bytes()
        (train / "chunk-0-0.bin").write_bytes(data[:len(data) // 2])
    elif damage == "count":
        manifest = json.loads((train / "manifest.json").read_text())
        (train / "manifest.json").write_text(json.dumps({**manifest, "count": 7}))
    else:
        fingerprint = "0" * 40
    with pytest.raises(DatasetError, match=message):
        open_shards(folder, "train", fingerprint, ShardRecord(), 0)


def test_shards_of_other_data_stop_train_py_with_one_line(shards, tmp_path):
    done = subprocess.run([sys.executable, "train.py", *TINY_DOGS, "data.val_fraction=0.2", "data.source=shards",
                           f"data.shards={shards}", f"hydra.run.dir={tmp_path}"], cwd=REPO,
                          capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "another sample list" in lines[0], done.stderr[-2000:]


def test_identity_batches_need_the_files(tmp_path):
    """The embedding teacher draws batches of several images per identity: shards (streamed in LitData's order)
    are refused in one line; its distilled student (one image at a time) trains from them."""
    from test_face_embedding import TINY_IDENTITIES
    teacher = ["task=face_embedding_teacher", *TINY_IDENTITIES]
    instantiate(compose_config(teacher).data, _convert_="all").write_shards(tmp_path, "train", part_size=500)
    dm = instantiate(compose_config([*teacher, "data.source=shards", f"data.shards={tmp_path}"]).data,
                     _convert_="all")
    dm.setup()
    with pytest.raises(DatasetError, match="batches of several images per identity cannot be drawn: set "
                                           "data.images_per_identity=0 or data.source=files"):
        dm.train_dataloader()


# ------------------------------------------------------------------------------------------- ranks and epochs
def _rank_ids(rank: int, world: int, port: int, shards: str, out: str) -> None:
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        seen = {}
        for source in ("shards", "files"):
            dm = datamodule(f"data.source={source}", f"data.shards={shards}")
            dm.setup()
            loader = dm.train_dataloader()
            seen[source] = []
            for epoch in range(2):
                if source == "shards":  # the records' ids of the batches this rank trains on
                    seen[source].append([i for batch in loader for i in batch.ids.tolist()])
                else:  # the decoded cache: the indices its sampler gives this rank
                    loader.sampler.set_epoch(epoch)
                    seen[source].append(list(loader.sampler))
        Path(out).write_text(json.dumps(seen))
    finally:
        dist.destroy_process_group()


def test_two_ranks_read_disjoint_samples_that_cover_the_split(shards, tmp_path):
    """2 gloo processes, from the shards and from the decoded cache: each epoch the ranks' samples are disjoint,
    their union is the split minus less than ranks x batch, and the order changes from epoch to epoch."""
    world, port = 2, 29500 + os.getpid() % 1000
    outs = [str(tmp_path / f"rank{r}.json") for r in range(world)]
    procs = [mp.get_context("spawn").Process(target=_rank_ids, args=(r, world, port, str(shards), outs[r]))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert all(p.exitcode == 0 for p in procs)
    total = check_shards(shards / "train")["count"]
    batch = 16
    for source in ("shards", "files"):
        seen = [json.loads(Path(o).read_text())[source] for o in outs]
        for epoch in range(2):
            ranks = [set(seen[r][epoch]) for r in range(world)]
            assert not ranks[0] & ranks[1]  # disjoint
            union = ranks[0] | ranks[1]
            assert len(union) == sum(len(s) for s in ranks) and total - len(union) < world * batch  # the drop
        assert seen[0][0] != seen[0][1]  # another order every epoch


# ------------------------------------------------------------------------------------------ kill -9, resume
def train(run_dir: Path, *extra: str, kill_at: int | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "PYTHONUNBUFFERED": "1",
           "RESUME_PROBE_KILL_AT": "" if kill_at is None else str(kill_at), **(env or {})}
    return subprocess.run([sys.executable, "train.py", *extra, f"hydra.run.dir={run_dir}"], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=600, start_new_session=True)


def steps(file: Path) -> dict[tuple[int, int], tuple]:
    """{(rank, global step): (sha1 of the batch the model trained on, its labels, sha1 of the global RNG state)} (a
    redone step overwrites: the resumed run's)."""
    return {(r["rank"], r["step"]): (r["images"], str(r["labels"]), r["rng"])
            for r in map(json.loads, file.read_text().splitlines())}


def last_checkpoints(*runs: Path) -> list[dict]:
    return [torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True) for run in runs]


def kill_and_resume(tmp_path: Path, *overrides: str, kill_at: int, base: tuple[str, ...] = tuple(TINY),
                    steps_in_all: int = 9) -> None:
    """An uninterrupted run and one killed with SIGKILL after step `kill_at`, then resumed from its folder alone:
    the batches of every step, the global RNG before every step and the final weights are equal."""
    probe = "+callbacks.probe._target_=resume_probe.Probe"
    whole = train(tmp_path / "whole", *base, *overrides, probe, f"+callbacks.probe.file={tmp_path / 'whole.jsonl'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = train(tmp_path / "killed", *base, *overrides, probe, f"+callbacks.probe.file={tmp_path / 'k.jsonl'}",
                   f"+callbacks.probe.kill_at_step={kill_at}")
    assert killed.returncode == -9, killed.stderr[-3000:]
    resumed = train(tmp_path / "killed", "resume=last", "++callbacks.probe.kill_at_step=null",
                    "resume_allow_changes=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert steps(tmp_path / "k.jsonl") == steps(tmp_path / "whole.jsonl")
    final = last_checkpoints(tmp_path / "whole", tmp_path / "killed")
    assert final[0]["global_step"] == final[1]["global_step"] == steps_in_all  # the last epoch's end saved too
    for name, tensor in final[0]["state_dict"].items():
        assert torch.equal(tensor, final[1]["state_dict"][name]), name


@pytest.mark.slow  # the shards' default-run case is the 2-rank DDP one below
def test_kill_9_mid_epoch_then_resume_equals_the_uninterrupted_run_on_shards(shards, tmp_path):
    kill_and_resume(tmp_path, "data.source=shards", f"data.shards={shards}", "data.num_workers=2",
                    "model.dropout=0.3", kill_at=5)  # last.ckpt at step 4: step 5 is trained again


def test_kill_9_then_resume_equals_the_uninterrupted_run_on_the_decoded_cache(tmp_path):
    kill_and_resume(tmp_path, "model.dropout=0.3", kill_at=7)  # last.ckpt after epoch 1 (step 6)


def test_kill_9_of_two_ddp_ranks_mid_epoch_then_resume_equals_the_uninterrupted_run_on_shards(shards, tmp_path):
    """2 gloo processes: the process group killed after step 5; every rank's batches and the final weights equal
    the uninterrupted run's."""
    kill_and_resume(tmp_path, "data.source=shards", f"data.shards={shards}", "trainer=ddp", "trainer.accelerator=cpu",
                    "trainer.devices=2", "data.batch_size=8", kill_at=5)


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_equals_the_uninterrupted_run_when_streaming(tmp_path):
    kill_and_resume(tmp_path, "data.decode_cache_gb=0", "data.num_workers=2", kill_at=5)


@pytest.mark.slow
def test_kill_9_in_the_student_stage_of_a_distilling_task_then_resume_equals_the_uninterrupted_run(tmp_path):
    from test_face_attributes import TINY_STUDENT, TINY_TEACHER_OVERRIDES
    kill_and_resume(tmp_path, kill_at=5, base=(*TINY_STUDENT, TINY_TEACHER_OVERRIDES, "trainer.max_epochs=3",
                                               "logger=none", "test=false",
                                               "callbacks.last_checkpoint.every_n_train_steps=2"))


def test_resume_auto_starts_a_fresh_run_or_continues_the_folders(tmp_path):
    from tasks.engine.run import resume_checkpoint
    cfg = compose_config([*TINY_DOGS, "resume=auto"], tmp_path)
    assert resume_checkpoint(cfg) is None  # nothing there yet: a fresh run
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert resume_checkpoint(cfg) == str(tmp_path / "checkpoints" / "last.ckpt")


def test_a_preempted_submitit_job_is_requeued_and_resumes_to_the_uninterrupted_runs_weights(shards, tmp_path):
    """What SLURM does to a job it pre-empts, on the SLURM launcher's code path (hydra/launcher=local: submitit's
    local executor, each run of a sweep in its own process, requeues as SLURM does): SIGUSR2 arrives mid-step in an epoch's last step; training stops after
    the next step (the first where a resumed run continues exactly), Lightning writes interrupted.ckpt there, submitit
    requeues the job, and the requeued job (the same command, resume=auto) continues from that checkpoint: every
    step's batch and the final weights equal the uninterrupted run's."""
    probe = "+callbacks.probe._target_=resume_probe.Probe"
    run = [*TINY, "data.source=shards", f"data.shards={shards}", probe]
    whole = train(tmp_path / "whole", *run, f"+callbacks.probe.file={tmp_path / 'whole.jsonl'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    sweep = tmp_path / "sweep"
    job = subprocess.run([sys.executable, "train.py", "-m", "hydra/launcher=local", *run, "resume=auto",
                          f"+callbacks.probe.file={tmp_path / 'job.jsonl'}", "+callbacks.probe.signal_at_step=5",
                          f"hydra.sweep.dir={sweep}"], cwd=REPO, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(REPO / "tests")})
    assert job.returncode == 0, job.stderr[-3000:]
    assert (sweep / ".submitit").is_dir()  # really went through submitit, and the sweep's report counts the run
    assert [row["status"] for row in csv.DictReader((sweep / "comparison.csv").open())] == ["ok"]
    log = (sweep / "0" / "train.log").read_text()
    assert "SIGUSR2: training stops after the next step" in log and "Requeued job" in log, log[-3000:]  # ours, then submitit's
    results = json.loads((sweep / "0" / "results.json").read_text())
    assert results["resumed_from"].endswith("interrupted.ckpt") and results["start_step"] == 7  # steps 3-5: epoch 2
    assert steps(tmp_path / "job.jsonl") == steps(tmp_path / "whole.jsonl")
    final = last_checkpoints(tmp_path / "whole", sweep / "0")
    assert final[0]["global_step"] == final[1]["global_step"] == 9
    assert all(torch.equal(v, final[1]["state_dict"][k]) for k, v in final[0]["state_dict"].items())


def test_a_preempted_job_without_resume_auto_stops_with_its_checkpoint_and_says_how_to_continue(tmp_path):
    """Only `resume=auto` makes a requeued job continue its run: without it the job is not requeued, and the run
    ends as interrupted after the step the signal came in (SUBMITIT_EXECUTOR set, as submitit's job script does)."""
    stopped = train(tmp_path / "job", *TINY, "+callbacks.probe._target_=resume_probe.Probe",
                    f"+callbacks.probe.file={tmp_path / 'job.jsonl'}", "+callbacks.probe.signal_at_step=1",
                    env={"SUBMITIT_EXECUTOR": "local"})
    lines = [line for line in stopped.stderr.splitlines() if line.startswith("interrupted")]
    assert stopped.returncode == 128 + 12 and len(lines) == 1, stopped.stderr[-3000:]
    assert lines[0].startswith("interrupted by SIGUSR2 at epoch 0, step 2: wrote ") and lines[0].endswith(
        f"hydra.run.dir={tmp_path / 'job'} resume=last (with resume=auto the job requeues by itself)")
    assert (tmp_path / "job" / "checkpoints" / "interrupted.ckpt").is_file()


@pytest.mark.slow  # the default run has the single-process job above
def test_a_preemption_signal_on_one_ddp_rank_stops_every_rank_at_the_same_step_and_resumes_exactly(shards, tmp_path):
    """2 gloo ranks in a job (SUBMITIT_EXECUTOR set, as submitit's job script sets it): only rank 1 gets SIGUSR2,
    both stop after the same step and write interrupted.ckpt together; the same command resumes to the
    uninterrupted run's batches and weights."""
    probe = "+callbacks.probe._target_=resume_probe.Probe"
    run = [*TINY, "data.source=shards", f"data.shards={shards}", "trainer=ddp", "trainer.accelerator=cpu",
           "trainer.devices=2", "data.batch_size=8", probe]
    whole = train(tmp_path / "whole", *run, f"+callbacks.probe.file={tmp_path / 'whole.jsonl'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    job = [*run, "resume=auto", f"+callbacks.probe.file={tmp_path / 'job.jsonl'}", "+callbacks.probe.signal_at_step=5",
           "+callbacks.probe.signal_rank=1"]
    env = {"SUBMITIT_EXECUTOR": "local"}
    stopped = train(tmp_path / "job", *job, env=env)
    assert stopped.returncode != 0 and (tmp_path / "job" / "checkpoints" / "interrupted.ckpt").is_file()
    assert torch.load(tmp_path / "job" / "checkpoints" / "interrupted.ckpt", map_location="cpu",
                      weights_only=True)["global_step"] == 7  # step 5 ends epoch 2: stopped after step 6
    again = train(tmp_path / "job", *job, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert steps(tmp_path / "job.jsonl") == steps(tmp_path / "whole.jsonl")
    final = last_checkpoints(tmp_path / "whole", tmp_path / "job")
    assert final[0]["global_step"] == final[1]["global_step"] == 9
    assert all(torch.equal(v, final[1]["state_dict"][k]) for k, v in final[0]["state_dict"].items())


def signal_and_resume(tmp_path: Path, run: list[str], *sending: str, stopped_at: str) -> None:
    """An uninterrupted run, and one the probe sends a signal (`sending`: its +callbacks.probe.* overrides) that must
    end it with `stopped_at` ("interrupted by SIG... at epoch E, step S") and exit code 128 + that signal, then
    resume=last: the batches of every step and the final weights are equal."""
    probe = "+callbacks.probe._target_=resume_probe.Probe"
    whole = train(tmp_path / "whole", *run, probe, f"+callbacks.probe.file={tmp_path / 'whole.jsonl'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    stopped = train(tmp_path / "job", *run, probe, f"+callbacks.probe.file={tmp_path / 'job.jsonl'}", *sending)
    code = 128 + signal.Signals[stopped_at.split()[2]]
    assert stopped.returncode == code and stopped_at in stopped.stderr, stopped.stderr[-3000:]
    again = train(tmp_path / "job", "resume=last")
    assert again.returncode == 0, again.stderr[-3000:]
    assert steps(tmp_path / "job.jsonl") == steps(tmp_path / "whole.jsonl")
    final = last_checkpoints(tmp_path / "whole", tmp_path / "job")
    assert all(torch.equal(v, final[1]["state_dict"][k]) for k, v in final[0]["state_dict"].items())


@pytest.mark.slow
def test_sigterm_during_validation_stops_after_the_next_step_and_resume_last_equals_the_uninterrupted_run(tmp_path):
    """SIGTERM (a scheduler) in the middle of an epoch's validation: training stops after the next epoch's first
    step with interrupted.ckpt, and resume=last from it ends as the uninterrupted run."""
    signal_and_resume(tmp_path, [*TINY, "model.dropout=0.3"], "+callbacks.probe.signal_at_step=6",
                      "+callbacks.probe.signal_in_validation=true", "+callbacks.probe.signal=SIGTERM",
                      stopped_at="interrupted by SIGTERM at epoch 2, step 7")


def test_ctrl_c_mid_step_stops_after_that_step_and_resume_last_equals_the_uninterrupted_run(tmp_path):
    """SIGINT to the run's whole process group (a terminal's Ctrl+C: the loader's 2 workers get it too) in the middle
    of a step: the run stops after that step with interrupted.ckpt, its workers served batches until then, and
    resume=last from it ends as the uninterrupted run."""
    signal_and_resume(tmp_path, [*TINY, "data.decode_cache_gb=0", "data.num_workers=2"],
                      "+callbacks.probe.signal_at_step=4", "+callbacks.probe.signal=SIGINT",
                      "+callbacks.probe.signal_group=true", stopped_at="interrupted by SIGINT at epoch 1, step 5")


def test_a_resume_on_changed_training_data_is_refused(tmp_path):
    from PIL import Image
    images = tmp_path / "photos"
    for name in ("a", "b"):
        (images / name).mkdir(parents=True)
        for i in range(12):
            Image.new("RGB", (40, 30), (20 * i, 100 if name == "a" else 0, 0)).save(images / name / f"{i}.jpg")
    run = ["task=dogs", "data=image_folder", f"data.root={images}", "data.image_size=32", "data.batch_size=4",
           "data.num_workers=0", "trainer.max_epochs=1", "logger=none", "test=false", "latency_repeats=1",
           "callbacks.progress_bar.refresh_rate=0"]
    first = train(tmp_path / "run", *run)
    assert first.returncode == 0, first.stderr[-3000:]
    Image.new("RGB", (40, 30), (1, 2, 3)).save(images / "a" / "new.jpg")
    again = train(tmp_path / "run", "resume=last", "trainer.max_epochs=2", "resume_allow_changes=true")
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert again.returncode == 2 and len(lines) == 1, again.stderr[-3000:]
    assert "the training samples differ from those of the checkpoint" in lines[0]


class MeanColour:
    """A stand-in teacher: each image's mean colour per channel (what it outputs shows which image it saw)."""
    kind, source, output_names = "test", "mean colour", None

    def __init__(self):
        from tasks.distill.teachers import View
        self.view = View(24, 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        self.seen = 0  # images run

    def identity(self):
        return {"kind": "mean colour"}

    def run(self, images):
        self.seen += len(images)
        return images.mean(dim=(2, 3))

    def to(self, device):
        return self


def test_the_teacher_pass_of_a_distilling_student_reads_its_shards(tmp_path, monkeypatch):
    """With data.source=shards the teacher's outputs come from the shard records, each in its image's row: the
    same outputs as from the files up to the shards' JPEG re-encoding."""
    from tasks.distill.mixin import teacher_outputs
    from test_face_attributes import TINY_STUDENT
    monkeypatch.setattr("tasks.distill.mixin.default_cache_dir", lambda: tmp_path / "cache")
    dm = instantiate(compose_config(TINY_STUDENT).data, _convert_="all")
    dm.write_shards(tmp_path / "shards", "train", part_size=50, num_workers=1)
    dm.setup()
    images = dm.images("train")
    files = teacher_outputs(MeanColour(), images, 3, "test", num_workers=0)
    shards = teacher_outputs(MeanColour(), images, 3, "test", num_workers=2, shards=tmp_path / "shards" / "train")
    rows = sorted(int(r["label"]) for r in records(tmp_path / "shards"))
    assert rows == list(range(len(images)))  # every training image once, the unlabelled pool included
    assert (shards - files).abs().max() < 0.02  # JPEG re-encoding; and each row is nearest its own image's
    assert torch.equal(torch.cdist(shards, files).argmin(dim=1), torch.arange(len(images)))


@pytest.mark.parametrize("source", ["files", "shards"])
def test_the_teacher_pass_in_parts_with_a_killed_part_equals_one_pass(source, tmp_path, monkeypatch):
    """teacher.parts=3: parts 0 and 2 computed by their own jobs, part 1 killed (only its temporary file left); the
    training run's pass computes part 1 alone and puts together exactly the one-pass outputs."""
    from tasks.distill.mixin import teacher_outputs
    from test_face_attributes import TINY_STUDENT
    dm = instantiate(compose_config(TINY_STUDENT).data, _convert_="all")
    folder = None
    if source == "shards":  # rows are the records' labels, not their places (the records are shuffled)
        folder = dm.write_shards(tmp_path / "shards", "train", part_size=50, num_workers=1)
        labels = [int(r["label"]) for r in records(tmp_path / "shards")]
        assert labels != sorted(labels)
    dm.setup()
    images = dm.images("train")
    monkeypatch.setattr("tasks.distill.mixin.default_cache_dir", lambda: tmp_path / "one")
    whole = teacher_outputs(MeanColour(), images, 3, "test", num_workers=0, shards=folder)
    monkeypatch.setattr("tasks.distill.mixin.default_cache_dir", lambda: tmp_path / "parts")
    for part in (0, 2):
        assert teacher_outputs(MeanColour(), images, 3, "test", num_workers=0, shards=folder, parts=3,
                               part=part) is None
    (part_files,) = (tmp_path / "parts" / "teacher_outputs").glob("*.parts")
    assert sorted(p.name for p in part_files.iterdir()) == ["part-00000-of-00003.npz", "part-00002-of-00003.npz"]
    (part_files / ".part-00001-of-00003.npz.99999.tmp.npz").write_bytes(b"killed")
    teacher = MeanColour()
    outputs = teacher_outputs(teacher, images, 3, "test", num_workers=0, shards=folder, parts=3)
    assert teacher.seen == 1 + round(2 * len(images) / 3) - round(len(images) / 3)  # the size check, part 1
    assert torch.equal(outputs, whole) and not part_files.exists()
    for parts, part in ((3, 3), (1, 0), (0, None)):
        with pytest.raises(TeacherError, match=f"teacher.part={part}, teacher.parts={parts}: parts must be"):
            teacher_outputs(MeanColour(), images, 3, "test", parts=parts, part=part)


def test_a_mid_epoch_resume_with_another_number_of_workers_is_refused(shards):
    """LitData splits an epoch's chunks across the workers: a mid-epoch position resumes only with as many (one
    line naming the key); at an epoch's end any number resumes."""
    from data.shards import ShardLoader, shard_batch
    dm = datamodule()
    dm.setup()

    def loader(workers: int, resume=None):
        dataset = open_shards(shards, "train", dm.train_fingerprint, ShardRecord(), seed=0)
        return ShardLoader(dataset, batch_size=4, num_workers=workers, collate_fn=shard_batch, resume=resume)

    first = loader(2)
    assert len(first) > 2
    mid, end = first.position(2), first.position(len(first))
    with pytest.raises(DatasetError, match=r"^data.num_workers: 1 now, but the checkpoint stopped mid-epoch with 2"):
        loader(0, mid)
    assert loader(2, mid) is not None and loader(0, end) is not None



def test_shard_batches_are_read_in_the_training_process_and_decoded_there_in_threads(shards, tmp_path):
    """A classification batch leaves the loader as JPEG bytes (no worker processes, whatever data.num_workers);
    decode_batch in 3 threads gives the images in their order, each as torchvision decodes and shrinks it alone, in
    one batch padded by repeating the last row and column."""
    import io

    from PIL import Image
    from torchvision.io import decode_jpeg
    from torchvision.transforms.v2 import functional as F

    from data.batch_augment import UInt8Batch
    from data.shards import JpegBatch, decode_batch, shard_batch
    dm = datamodule("data.num_workers=2", "data.source=shards", f"data.shards={shards}")
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.num_workers == 0
    batch = next(iter(loader))
    assert isinstance(batch, JpegBatch) and isinstance(dm.on_before_batch_transfer(batch, 0), UInt8Batch)

    jpegs = []
    for index, (width, height) in enumerate([(40, 30), (20, 50), (64, 64), (33, 17), (90, 60)]):
        buffer = io.BytesIO()
        Image.effect_noise((width, height), 40 + index).convert("RGB").save(buffer, format="JPEG")
        jpegs.append(bytearray(buffer.getvalue()))
    records = [(jpeg, i, 100 + i) for i, jpeg in enumerate(jpegs)]
    out = decode_batch(shard_batch(records), short_side=36, threads=3)
    assert out.targets.tolist() == [0, 1, 2, 3, 4] and out.ids.tolist() == [100, 101, 102, 103, 104]
    expected = [decode_jpeg(torch.frombuffer(jpeg, dtype=torch.uint8)) for jpeg in jpegs]
    expected = [F.resize(e, [36], antialias=True) if min(e.shape[-2:]) > 36 else e for e in expected]
    assert out.sizes.tolist() == [list(e.shape[-2:]) for e in expected]
    assert out.images.shape == (5, 3, max(e.shape[1] for e in expected), max(e.shape[2] for e in expected))
    for image, e in zip(out.images, expected):
        h, w = e.shape[-2:]
        assert torch.equal(image[:, :h, :w], e)
        assert torch.equal(image[:, :h, w:], e[:, :, -1:].expand(-1, -1, image.shape[2] - w))
        assert torch.equal(image[:, h:], image[:, h - 1: h].expand(-1, image.shape[1] - h, -1))
    assert torch.equal(decode_batch(shard_batch(records), 36, threads=1).images, out.images)

# ------------------------------------------------------------------------------------------------ COCO shards
TINY_SSD_RUN = [*TINY_SSD, "trainer.max_epochs=3", "logger=none", "test=false",
                "callbacks.last_checkpoint.every_n_train_steps=2"]


@pytest.fixture(scope="module")
def coco_shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coco_shards")
    instantiate(compose_config(TINY_SSD).data, _convert_="all").write_shards(out, "train", part_size=5,
                                                                              num_workers=2)
    return out


def test_coco_shards_hold_every_training_image_with_its_boxes_crowds_and_the_annotation_file(coco_shards):
    """Each record: the image, its boxes in the listed image's pixels, labels, crowd flags, image id and listed size;
    decoded for training without augmentation, image and boxes match the files' pipeline."""
    from data.coco import COCODetection, DetectionDecode
    from data.detection_transforms import detection_transforms
    dm = instantiate(compose_config(TINY_SSD).data, _convert_="all")
    dm.setup("fit")
    samples = dm.train_samples()
    folder = coco_shards / "train"
    manifest = check_shards(folder, samples_fingerprint(samples))
    assert manifest["count"] == len(samples) and manifest["class_names"] == dm.class_names
    assert (folder / "annotations.json").read_bytes() == dm.paths["train"][0].read_bytes()
    written = records(coco_shards)
    assert sorted(r["id"] for r in written) == list(range(len(samples)))
    assert sum(len(r["label"]["boxes"]) for r in written) > len(written)  # objects, not only empty images
    plain = detection_transforms(False, "none")
    files = COCODetection(dm.coco_gt("train"), dm.paths["train"][1], dm.paths["train"][0], dm.label_of, plain)
    decode = DetectionDecode(plain, seed=0)
    for record in written:
        path, target = samples[record["id"]]
        assert record["label"]["image_id"] == target["image_id"]
        image, boxes = decode(record, epoch=1)
        want_image, want = files[files.ids.index(int(target["image_id"]))]
        assert image.shape == want_image.shape and (image - want_image).abs().mean() < 0.02  # JPEG re-encoding
        assert torch.allclose(boxes["boxes"], want["boxes"]) and torch.equal(boxes["labels"], want["labels"])


def test_kill_9_mid_epoch_then_resume_equals_the_uninterrupted_run_on_coco_shards(coco_shards, tmp_path):
    """SSD on COCO shards, its augmentation in 2 workers (per-record draws): killed after step 5, resumed."""
    kill_and_resume(tmp_path, "data.source=shards", f"data.shards={coco_shards}", "data.num_workers=2",
                    kill_at=5, base=tuple(TINY_SSD_RUN))


def test_coco_shard_augmentation_draws_per_record_and_epoch(coco_shards):
    """The workers' ssd augmentation of a record is a function of (seed, epoch, record id): the same again, another
    in the next epoch or for another seed, the same as the files' for that image, and it leaves the global RNG
    alone."""
    from data.coco import COCODetection, DetectionDecode
    from data.detection_transforms import detection_transforms
    record = max(records(coco_shards), key=lambda r: len(r["label"]["boxes"]))
    decode = DetectionDecode(detection_transforms(True, "ssd"), seed=0)
    state = torch.get_rng_state()
    outputs = [decode(record, epoch) for epoch in (1, 1, 2)] + [DetectionDecode(decode.transform, 1)(record, 1)]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1]["boxes"], outputs[1][1]["boxes"])
    for other in outputs[2:]:
        assert other[0].shape != outputs[0][0].shape or not torch.equal(other[0], outputs[0][0])
    # the same image read from the files, keyed by (epoch, its index in the split), gets the same draws
    dm = instantiate(compose_config(TINY_SSD).data, _convert_="all")
    dm.setup("fit")
    files = COCODetection(dm.coco_gt("train"), dm.paths["train"][1], dm.paths["train"][0], dm.label_of,
                          decode.transform, seed=0)
    image, target = files[(1, int(record["id"]))]
    assert image.shape == outputs[0][0].shape and (image - outputs[0][0]).abs().mean() < 0.02  # JPEG re-encoding
    assert torch.allclose(target["boxes"], outputs[0][1]["boxes"], atol=1e-4)
    assert torch.equal(torch.get_rng_state(), state)


def test_kill_9_mid_epoch_then_resume_equals_the_uninterrupted_run_on_coco_files(tmp_path):
    """SSD from the COCO files through the decoded cache, the defaults' path (uint8 batches flipped in the main
    process, drawn from their sample indices): killed after step 5, resumed."""
    kill_and_resume(tmp_path, kill_at=5, base=tuple(TINY_SSD_RUN))


@pytest.mark.slow
@pytest.mark.parametrize("task", ["ssd", "faster_rcnn"])
def test_kill_9_mid_epoch_then_resume_equals_the_uninterrupted_run_streaming_coco(task, tmp_path):
    """COCO files streamed by 2 workers with the ssd augmentation (per-image draws), and Faster R-CNN, whose
    proposal and box sampling draw from the global RNG."""
    base = [*tiny_overrides(task), "trainer.max_epochs=3", "test=false", "callbacks.last_checkpoint.every_n_train_steps=2"]
    kill_and_resume(tmp_path, "data.decode_cache_gb=0", "data.num_workers=2", "data.augment=ssd", kill_at=5,
                    base=tuple(base))


def test_a_loader_position_from_another_suite_version_is_not_applied(caplog):
    """A checkpoint whose loader position another version of the suite wrote (other keys) continues at its step
    with a warning, instead of failing deep inside the sampler."""
    dm = datamodule()
    dm.setup()
    with caplog.at_level(logging.WARNING):
        dm.load_state_dict({"train_fingerprint": dm.train_fingerprint, "train_loader": {"epoch": 1, "samples": 32}})
    assert dm.take_resume() is None and "another version of this suite" in caplog.text
    loader = dm.train_dataloader()
    assert len(list(loader.sampler)) == len(dm.split_samples["train"])  # a whole epoch, in a new order


def test_prepare_py_bad_input_is_one_line(tmp_path):
    """prepare.py's errors end as one line and a non-zero exit (COCO's validation split is not sharded)."""
    done = subprocess.run([sys.executable, "prepare.py", "task=ssd", TINY_DETECTION[0], f"prepare.out={tmp_path}",
                           "prepare.splits=[val]"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: prepare.splits: COCO shards hold the training split only; val reads its files (COCOeval scores "
        "against its annotation file): prepare.splits=[train]"]


@pytest.mark.parametrize("cache", [pytest.param("0", id="streaming"), pytest.param("8", id="decode_cache",
                                                                                    marks=pytest.mark.slow)])
def test_kill_9_mid_epoch_then_resume_equals_the_uninterrupted_run_with_identity_batches(cache, tmp_path):
    """The face embedding teacher's batches of several images per identity (IdentityBatchSampler): killed in its
    second epoch, resumed."""
    kill_and_resume(tmp_path, f"data.decode_cache_gb={cache}", kill_at=11, steps_in_all=16,
                    base=(*tiny_overrides("face_embedding"), "test=false",
                          "callbacks.last_checkpoint.every_n_train_steps=2"))
