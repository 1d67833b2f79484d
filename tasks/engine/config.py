"""Configuration: composing conf/ with Hydra (inside a running Hydra app or outside one), resolving it, and
comparing two resolved configs."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
SAVED_CONFIG = "config_resolved.yaml"  # a run folder's resolved config, written when the run starts
RESUME_KEYS = ("resume", "resume_allow_changes")  # what a resumed run may always say differently
CHANGEABLE_GROUPS = ("trainer", "logger", "callbacks")  # groups a resumed run may switch with resume_allow_changes


def _hydra_subdir(resume: Any) -> str:
    """hydra.output_subdir: where Hydra saves an invocation's config; a resume's goes beside the original's (with
    resume=auto every start, the first included, gets its own)."""
    if not resume:
        return ".hydra"
    return f".hydra/{'started' if resume == 'auto' else 'resumed'}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"


if not OmegaConf.has_resolver("hydra_subdir"):
    OmegaConf.register_new_resolver("hydra_subdir", _hydra_subdir, use_cache=True)


class ConfigError(ValueError):
    """A config value is missing or unusable; the message names the key and the fix."""


def compose(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """conf/config.yaml composed with `overrides` as train.py composes it, inside a running Hydra app (a teacher
    stage) or outside one (tests, tools)."""
    if GlobalHydra.instance().is_initialized():
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)


def resolve_config(cfg: DictConfig) -> dict[str, Any]:
    """The config with every interpolation resolved; a missing mandatory value names its key."""
    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(f"config key '{err.full_key}' has no value (it is '???'): set it on the command line, "
                          f"e.g. {err.full_key}=<value>") from None


def changed_keys(old: Any, new: Any, ignore: Sequence[str] = (), prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in sorted(set(old) | set(new)) if key not in ignore
                for k in changed_keys(old.get(key), new.get(key), (), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def resumed_config(cfg: DictConfig, typed: Sequence[str] | None, choices: Mapping[str, Any] | None = None
                   ) -> tuple[DictConfig, list[str]]:
    """A resumed run's config: the one saved in its run folder (SAVED_CONFIG), so `hydra.run.dir=<run>
    resume=last` alone continues the run as it was configured. Overrides typed again (`typed`, as on the command
    line; `choices`: this invocation's config-group choices) must agree with it; any that differ are refused,
    naming them, unless `resume_allow_changes=true`, which applies them (e.g. more epochs; not another task or
    model). `typed=None` (a config composed in Python, complete): every key is compared. Returns (config, the
    keys changed). A folder without a saved config: `cfg` as composed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    run_dir = Path(cfg.paths.output_dir)
    saved_path = run_dir / SAVED_CONFIG
    if not cfg.get("resume") or not saved_path.is_file():
        return cfg, []
    saved = yaml.safe_load(saved_path.read_text())
    current = OmegaConf.to_container(cfg, resolve=True)
    hydra_saved = run_dir / ".hydra" / "hydra.yaml"
    saved_choices = (yaml.safe_load(hydra_saved.read_text()) or {}).get("hydra", {}).get("runtime", {}).get(
        "choices", {}) if hydra_saved.is_file() else {}
    differ: list[tuple[str, Any, Any]] = []
    if typed is None:
        differ = [(key, _select(saved, key), _select(current, key))
                  for key in changed_keys(saved, current, ignore=RESUME_KEYS)]
    for override in OverridesParser.create().parse_overrides(list(typed or ())):
        key = override.key_or_group
        if key in RESUME_KEYS or key.startswith("hydra"):
            continue
        if (CONF_DIR / key).is_dir():  # a config group: compare the option chosen
            old, new = saved_choices.get(key), (choices or {}).get(key)
            if key in saved_choices and old != new:
                differ.append((key, old, new))
            continue
        old, new = _select(saved, key), _select(current, key)
        if old != new:
            differ.append((key, old, new))
    if not differ:
        restored = OmegaConf.create(saved)
        restored.resume, restored.resume_allow_changes = cfg.resume, cfg.get("resume_allow_changes", False)
        return restored, []
    listed = "; ".join(f"{key}: the run has {old!r}, given {new!r}" for key, old, new in differ)
    fixed = [key for key, _, _ in differ if (CONF_DIR / key).is_dir() and key not in CHANGEABLE_GROUPS]
    if fixed or not cfg.get("resume_allow_changes"):
        fix = (f"a resumed run cannot change {', '.join(fixed)}: start a new run folder" if fixed else
               "drop them to continue the run as configured, or add resume_allow_changes=true to apply them")
        raise ConfigError(f"resume: these overrides differ from the run's config ({saved_path}): {listed}. {fix}")
    restored = OmegaConf.create(saved)
    for key, _, _ in differ:  # a value, or a whole group's node (trainer=gpu)
        OmegaConf.update(restored, key, OmegaConf.select(cfg, key), merge=False)
    restored.resume, restored.resume_allow_changes = cfg.resume, True
    return OmegaConf.create(OmegaConf.to_container(restored, resolve=True)), [key for key, _, _ in differ]


def _select(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# ------------------------------------------------------------------------------------- numeric values, checked
# Every numeric key of conf/, by its name wherever it sits: (check, what it must be). A value a user sets is
# checked when the run starts, before any data is generated or read.
def _int(low: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _number(low: float, high: float = float("inf"), open_low: bool = False, open_high: bool = False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        return (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
    return check


POSITIVE_INT, COUNT = (_int(1), "an integer >= 1"), (_int(0), "an integer >= 0")
PROBABILITY = (_number(0, 1), "a number in [0, 1]")
VALUE_RULES: dict[str, tuple[Any, str]] = {
    **{k: POSITIVE_INT for k in (
        "image_size", "batch_size", "embedding_size", "teacher_embedding_size", "fpn_channels",
        "representation_size", "roi_size", "head_kernel", "box_batch_size_per_image", "box_detections_per_img",
        "detections_per_img", "rpn_batch_size_per_image", "rpn_pre_nms_top_n_train", "rpn_pre_nms_top_n_test",
        "rpn_post_nms_top_n_train", "rpn_post_nms_top_n_test", "topk_candidates", "images_per_identity",
        "min_images_per_identity", "log_every_n_steps", "check_val_every_n_epoch", "accumulate_grad_batches",
        "throughput_repeats", "round_to", "min_size", "calibration_images", "top_k")},
    **{k: COUNT for k in ("num_workers", "warmup_steps", "throughput_batch", "latency_repeats", "num_visualized",
                          "refresh_rate", "qat_steps")},
    **{k: PROBABILITY for k in ("box_nms_thresh", "box_score_thresh", "nms_thresh", "score_thresh", "iou_thresh",
                                "rpn_nms_thresh", "rpn_fg_iou_thresh", "rpn_bg_iou_thresh", "positive_fraction",
                                "visualize_score", "threshold")},
    **{k: (_number(0, 1, open_high=True), "a number in [0, 1)") for k in (
        "dropout", "label_smoothing", "val_fraction", "test_fraction")},
    **{k: (_number(0, 1, open_low=True), "a number in (0, 1]") for k in ("eval_crop_fraction", "min_crop_scale")},
    **{k: (_number(0, open_low=True), "a number > 0") for k in ("lr", "temperature", "width_mult", "min_scale",
                                                               "max_scale", "tolerance", "qat_lr")},
    **{k: (_number(0), "a number >= 0") for k in ("weight_decay", "depthwise_weight_decay", "decode_cache_gb",
                                                   "color_jitter", "margin")},
    "zoom_out_max": (_number(1), "a number >= 1"),
    "max_epochs": (_int(-1), "an integer >= -1 (-1: no limit)"),
    "max_steps": (_int(-1), "an integer >= -1 (-1: no limit)"),
    "seed": (_int(0), "an integer >= 0"),
}


def check_values(resolved: dict[str, Any], prefix: str = "") -> None:
    """Raise a ConfigError naming the first key (by VALUE_RULES) whose value is out of range or not a number."""
    # nested nodes first: data.image_size is named rather than the top-level image_size that repeats it
    for key, value in sorted(resolved.items(), key=lambda item: not isinstance(item[1], dict)):
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if key != "hydra":
                check_values(value, name + ".")
        elif key in VALUE_RULES and value is not None:
            check, what = VALUE_RULES[key]
            if not check(value):
                raise ConfigError(f"{name}={value!r}: must be {what}")


def check_overrides(config: DictConfig, overrides: Sequence[str]) -> None:
    """`key=value` overrides of a saved run config (eval.py's data.*): each key must exist there (a typo is named,
    with the nearest key); `+key=value` adds one deliberately."""
    import difflib
    for override in overrides:
        key = override.partition("=")[0]
        if key.startswith("+"):
            continue
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(config, parent) if parent else config
        if not isinstance(node, DictConfig) or leaf not in node:
            near = difflib.get_close_matches(leaf, [str(k) for k in node.keys()], n=1) \
                if isinstance(node, DictConfig) else []
            hint = f"did you mean {parent + '.' if parent else ''}{near[0]}? " if near else ""
            raise ConfigError(f"{key}: no such key in the run's config; {hint}(+{key}=<value> adds a new one)")
