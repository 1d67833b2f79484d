"""Every config composes, every group option instantiates, and config mistakes end in a clear error."""
from __future__ import annotations

import subprocess
import sys

import pytest
import pytorch_lightning as pl
from hydra.errors import ConfigCompositionException, InstantiationException, MissingConfigException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from backbone import Backbone
from tasks.engine.run import ConfigError, resolve_config, train_and_test

from conftest import CONF_DIR, REPO, compose_config

TASKS = sorted(p.stem for p in (CONF_DIR / "task").glob("*.yaml"))
# every option but the generic adapters (their model_name is mandatory)
BACKBONES = sorted(p.stem for p in (CONF_DIR / "backbone").glob("*.yaml") if p.stem not in ("timm", "torchvision"))


@pytest.mark.parametrize("task", TASKS)
def test_every_task_composes_and_resolves(task, tmp_path):
    cfg = compose_config([f"task={task}"], tmp_path)
    resolved = resolve_config(cfg)
    assert resolved["task_name"] == task
    assert resolved["model"]["_target_"].startswith("tasks.")
    metric = resolved["monitor"]["metric"]  # null: no early stopping, the final weights are tested
    assert metric is None or metric.startswith("val/")


TEACHERS = sorted(p.stem for p in (CONF_DIR / "teacher").glob("*.yaml"))


@pytest.mark.parametrize("teacher", TEACHERS)
def test_every_teacher_kind_composes(teacher, tmp_path):
    overrides = ["task=face_attributes", f"teacher={teacher}"]
    if teacher != "train":
        overrides += ["teacher.path=/t/teacher.bin"] if teacher != "timm" else [
            "teacher.model_name=resnet50", "teacher.pretrained=/t/w.pth"]
    resolved = resolve_config(compose_config(overrides, tmp_path))
    assert resolved["teacher"]["kind"] == teacher and resolved["model"]["distill"] is True


EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("coco_*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_preset_composes_over_its_task(experiment, tmp_path):
    """The presets (Table 13's detectors; their models are checked against the table in test_detection_models)
    pick their task, override it, and still leave every key to the command line."""
    cfg = compose_config([f"experiment={experiment}", "data.root=/coco", "trainer.max_epochs=1"], tmp_path)
    resolved = resolve_config(cfg)
    assert resolved["task_name"] == experiment.removeprefix("coco_").rstrip("0123456789")
    assert resolved["data"]["image_size"] == int(experiment[-3:]) and resolved["backbone"]["width_mult"] == 1.0
    assert resolved["data"]["root"] == "/coco" and resolved["trainer"]["max_epochs"] == 1


def test_facenet_preset_distils_the_real_facenet(tmp_path):
    """experiment=face_embedding_facenet: FaceNet (512-d) as the teacher of a 128-d student that projects into its
    space; the data keys stay the user's."""
    cfg = compose_config(["experiment=face_embedding_facenet", "data.root=/faces", "data.pairs=/lfw/pairs.txt"],
                         tmp_path)
    resolved = resolve_config(cfg)
    assert resolved["task_name"] == "face_embedding" and resolved["teacher"]["kind"] == "facenet"
    assert resolved["model"]["teacher_embedding_size"] == 512 and resolved["model"]["embedding_size"] == 128
    assert resolved["data"]["root"] == "/faces" and resolved["data"]["pairs"] == "/lfw/pairs.txt"


def test_experiment_preset_without_the_dataset_names_the_missing_folder(tmp_path):
    cfg = compose_config(["experiment=coco_faster_rcnn600", f"data.root={tmp_path / 'coco'}"], tmp_path)
    with pytest.raises(InstantiationException, match=f"DatasetError.*COCO root not found: {tmp_path / 'coco'}"):
        train_and_test(cfg)


@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_instantiates(name, tmp_path):
    cfg = compose_config(["task=dogs", f"backbone={name}"], tmp_path)
    backbone = instantiate(cfg.backbone, _convert_="all")
    assert isinstance(backbone, Backbone)
    strides = [f.stride for f in backbone.feature_info]
    assert strides == sorted(strides) and strides[-1] == (16 if name.startswith("squeezenet") else 32)
    assert backbone.num_features == backbone.feature_info[-1].channels


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "ddp"])
def test_trainer_configs(trainer, tmp_path):
    cfg = compose_config(["task=dogs", f"trainer={trainer}"], tmp_path)
    expected = {"cpu": ("cpu", 1, "32-true"), "gpu": ("gpu", 1, "16-mixed"), "ddp": ("auto", 2, "32-true")}
    assert (cfg.trainer.accelerator, cfg.trainer.devices, cfg.trainer.precision) == expected[trainer]
    if trainer == "cpu":
        assert isinstance(instantiate(cfg.trainer, logger=False), pl.Trainer)


def test_loggers_and_callbacks_instantiate(tmp_path):
    cfg = compose_config(["task=dogs"], tmp_path)
    loggers = [instantiate(c) for c in cfg.logger.values()]
    assert {type(lg).__name__ for lg in loggers} == {"CSVLogger", "TensorBoardLogger"}
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    checkpoints = [c for c in callbacks if isinstance(c, pl.callbacks.ModelCheckpoint)]
    assert [c.monitor for c in checkpoints] == ["val/top1", None]
    assert all(c.dirpath == str(tmp_path / "checkpoints") for c in checkpoints)
    assert OmegaConf.to_container(compose_config(["task=dogs", "logger=none"], tmp_path).logger) == {}


def test_image_folder_data_option(tmp_path):
    (tmp_path / "photos" / "a").mkdir(parents=True)
    (tmp_path / "photos" / "b").mkdir()
    for cls in "ab":
        for i in range(3):
            (tmp_path / "photos" / cls / f"{i}.jpg").write_bytes(b"")  # listed, not decoded, at construction
    cfg = compose_config(["task=dogs", "data=image_folder", f"data.root={tmp_path / 'photos'}"], tmp_path)
    datamodule = instantiate(cfg.data, _convert_="all")
    assert datamodule.class_names == ["a", "b"] and datamodule.image_size == 128  # the task's image size


def test_command_line_beats_task_defaults(tmp_path):
    cfg = compose_config(["task=dogs", "backbone=resnet50", "data.image_size=64", "trainer.max_epochs=1"], tmp_path)
    assert cfg.backbone.model_name == "resnet50" and cfg.image_size == 64 and cfg.trainer.max_epochs == 1


def test_unknown_backbone_lists_the_options():
    with pytest.raises(MissingConfigException, match="backbone/nope"):
        compose_config(["task=dogs", "backbone=nope"])


def test_wrong_config_key_names_it():
    with pytest.raises(ConfigCompositionException, match="max_epoch"):
        compose_config(["task=dogs", "trainer.max_epoch=3"])


def test_missing_mandatory_value_names_the_key(tmp_path):
    cfg = compose_config(["task=dogs", "backbone=timm"], tmp_path)
    with pytest.raises(ConfigError, match="backbone.model_name"):
        resolve_config(cfg)


def test_unknown_timm_model_suggests_names():
    cfg = compose_config(["task=dogs", "backbone=timm", "backbone.model_name=resnet5"])
    with pytest.raises(Exception, match="resnet50"):
        instantiate(cfg.backbone)


def test_cli_errors_are_one_clear_message():
    """From the command line, a wrong key ends in one line naming it and the nearest key, exit 2, no stack
    trace (tests/test_cli.py covers every entry point)."""
    done = subprocess.run([sys.executable, "train.py", "task=dogs", "trainer.max_epoch=3"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "did you mean trainer.max_epochs?" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "train.py", "task=dogs", "backbone=nope"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert "Could not find 'backbone/nope'" in done.stderr and "mobilenet_v1_050" in done.stderr


PAPER_TABLES = sorted(p.stem for p in (CONF_DIR / "experiment").glob("paper_table*.yaml"))


def sweep_combinations(cfg) -> list[list[str]]:
    """The runs a `-m` of this config launches: the cartesian product of its hydra.sweeper.params."""
    import itertools
    params = cfg.hydra.sweeper.params
    keys = list(params)
    values = [str(params[k]).split(",") for k in keys]
    return [[f"{k}={v}" for k, v in zip(keys, combo)] for combo in itertools.product(*values)]


@pytest.mark.parametrize("experiment", PAPER_TABLES)
def test_every_paper_table_sweep_composes_run_by_run(experiment, tmp_path):
    """Each paper table is a sweep (hydra.sweeper.params); every run of it composes, resolves (the shared teacher
    folder included) and builds its backbone."""
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        base = compose("config", overrides=[f"experiment={experiment}"], return_hydra_config=True)
        combos = sweep_combinations(base)
        assert len(combos) >= 2 and "paper_table" in base.hydra.sweep.dir
        for combo in combos:
            cfg = compose("config", overrides=[f"experiment={experiment}", *combo, f"paths.output_dir={tmp_path}",
                                               "hydra.sweep.dir=/sweep"], return_hydra_config=True)
            from hydra.core.hydra_config import HydraConfig
            from omegaconf import open_dict
            HydraConfig.instance().set_config(cfg)  # as Hydra does for a job: ${hydra:...} resolves, then no hydra key
            with open_dict(cfg):
                del cfg["hydra"]
            resolved = resolve_config(cfg)
            for override in combo:
                key, value = override.split("=")
                if key in ("task", "backbone"):
                    continue
                assert str(OmegaConf.select(cfg, key)) == value
            if cfg.get("teacher") is not None and experiment in ("paper_table12", "paper_table14"):
                assert resolved["teacher"]["dir"] == "/sweep/teacher"
            assert isinstance(instantiate(cfg.backbone, _convert_="all"), Backbone)
