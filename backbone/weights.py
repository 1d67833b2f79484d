"""Pretrained weights for any backbone: a timm pretrained tag, a local file, or a checkpoint of this suite.

`backbone.pretrained` is read as:
- an existing file: `.safetensors` (safetensors), anything else with `torch.load(weights_only=True)`. A Lightning
  checkpoint of this suite (`state_dict` with `backbone.` keys) gives its backbone; a plain state dict (ours or
  timm's layout) is used as is;
- otherwise a timm pretrained tag such as `mobilenetv1_100.ra4_e3600_r224_in1k`, downloaded by timm. Offline, this
  fails at once with a message that says how to pass a local file instead.
"""
from __future__ import annotations

import contextlib
import logging
import socket
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

log = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")


class PretrainedWeightsError(RuntimeError):
    """Weights named by `backbone.pretrained` could not be found, fetched or loaded."""


def check_spec(spec) -> str | None:
    """`backbone.pretrained` as a string (or None), with a clear error for anything else (e.g. `true`)."""
    if spec is None or spec is False or spec == "":
        return None
    if isinstance(spec, Path):
        return str(spec)
    if not isinstance(spec, str):
        raise PretrainedWeightsError(
            f"backbone.pretrained must be null, a timm pretrained tag (e.g. 'mobilenetv1_100.ra4_e3600_r224_in1k') "
            f"or the path of a weights file, got {spec!r}")
    return spec


def looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.endswith(WEIGHT_SUFFIXES)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file; a suite checkpoint gives its backbone's. Never unpickles arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedWeightsError(f"backbone.pretrained: file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt file, or one that needs unsafe unpickling
        raise PretrainedWeightsError(f"backbone.pretrained: cannot read weights from {path}: {err}") from err
    if isinstance(state, dict) and "state_dict" in state:  # Lightning checkpoint
        state = state["state_dict"]
        prefix = "backbone."
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    elif isinstance(state, dict) and isinstance(state.get("model"), dict):  # common training-script layout
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedWeightsError(f"backbone.pretrained: {path} holds no state dict of tensors")
    return state


def hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_offline_if_unreachable() -> Iterator[bool]:
    """Without a network, let huggingface_hub use its cache only instead of retrying for a minute."""
    import huggingface_hub.constants as hub_constants
    online = hub_reachable()
    saved = hub_constants.HF_HUB_OFFLINE
    if not online:
        hub_constants.HF_HUB_OFFLINE = True
    try:
        yield online
    finally:
        hub_constants.HF_HUB_OFFLINE = saved


def create_timm_pretrained(tag: str, **kwargs) -> nn.Module:
    """`timm.create_model(tag, pretrained=True, **kwargs)` that fails fast and clearly when offline."""
    import timm
    with _hub_offline_if_unreachable() as online:
        try:
            return timm.create_model(tag, pretrained=True, **kwargs)
        except Exception as err:
            where = "" if online else f" ({HUB_HOST} is unreachable: this machine looks offline)"
            raise PretrainedWeightsError(
                f"backbone.pretrained: could not get timm pretrained weights '{tag}'{where}: {err}\n"
                f"Fix: on a machine with internet, save them once, e.g.\n"
                f"  python -c \"import timm, torch; torch.save(timm.create_model('{tag}', pretrained=True)"
                f".state_dict(), 'weights.pth')\"\n"
                f"then pass the file: backbone.pretrained=/path/to/weights.pth (or a .safetensors file)."
            ) from err


def load_state_dict_into(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load `state` into `module` (after its `adapt_state_dict` hook); every module key must be covered."""
    adapt = getattr(module, "adapt_state_dict", None)
    if adapt is not None:
        state = adapt(state)
    own = module.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if mismatched:
        k = mismatched[0]
        width = getattr(module, "width_mult", None)  # backbones with the paper's alpha: channels scale with it
        hint = "the weights are for another architecture or width"
        if width and own[k].ndim and state[k].ndim and own[k].shape[0]:
            theirs = round(width * state[k].shape[0] / own[k].shape[0], 3)
            hint = (f"this backbone has width_mult {width:g} but the weights look like width_mult {theirs:g}: pick "
                    f"the backbone they were trained with, e.g. backbone.width_mult={theirs:g} (a task's default "
                    f"backbone may be narrower than the weights)")
        raise PretrainedWeightsError(
            f"backbone.pretrained: {source}: shape of '{k}' is {tuple(state[k].shape)}, the backbone expects "
            f"{tuple(own[k].shape)} ({len(mismatched)} mismatched tensors): {hint}")
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing:
        raise PretrainedWeightsError(
            f"backbone.pretrained: {source} lacks {len(missing)} of the backbone's tensors, e.g. {missing[:3]}: "
            f"the weights are for another architecture")
    counted = [k for k in own if not k.endswith("num_batches_tracked")]  # BatchNorm step counters: not weights
    loaded = sum(k in state for k in counted)
    kept = (f"; {len(result.missing_keys)} left at init (BatchNorm step counters, e.g. {result.missing_keys[0]})"
            if result.missing_keys else "")
    log.info("backbone.pretrained: loaded %d of the backbone's %d tensors from %s%s", loaded, len(counted), source,
             kept)
    if result.unexpected_keys:
        log.info("backbone.pretrained: ignored %d tensors of %s not used by the backbone (e.g. %s)",
                 len(result.unexpected_keys), source, result.unexpected_keys[:2])


def load_pretrained(module: nn.Module, spec: str) -> None:
    """Fill `module` from `spec`: a file (see `read_state_dict`) or a timm pretrained tag."""
    spec = check_spec(spec)
    if spec is None:
        return
    if Path(spec).is_file() or looks_like_path(spec):
        load_state_dict_into(module, read_state_dict(spec), spec)
    else:
        load_state_dict_into(module, create_timm_pretrained(spec).state_dict(), f"timm '{spec}'")
