"""Configuration: composing conf/ with Hydra (inside a running Hydra app or outside one), resolving it, and
comparing two resolved configs."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


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
