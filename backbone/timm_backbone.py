"""Any timm model as a suite backbone, through timm's `features_only` interface."""
from __future__ import annotations

import contextlib
import difflib
import logging
import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import torch

from .base import Backbone, FeatureInfo
from .weights import PretrainedWeightsError, check_spec, create_timm_pretrained, load_pretrained, looks_like_path


@contextlib.contextmanager
def _timm_missing_keys() -> Iterator[list[str]]:
    """Collect the keys timm reports missing (an INFO log line) while it loads pretrained weights non-strictly."""
    missing: list[str] = []
    logger = logging.getLogger("timm.models._builder")

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = re.match(r"Missing keys \((.*)\) discovered", record.getMessage(), re.S)
            if found:
                missing.extend(k.strip() for k in found.group(1).split(",") if k.strip())

    handler, level = Collect(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        yield missing
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class TimmBackbone(Backbone):
    """`timm.create_model(model_name, features_only=True)`; taps are timm's feature stages, named by module.

    Args:
        model_name: a timm architecture (`timm.list_models()`), e.g. resnet50, vgg16, inception_v3.
        pretrained: a timm pretrained tag of that architecture (e.g. `resnet50.a1_in1k`; `true`: timm's default
            tag), a local weights file (timm's layout, loaded by timm with `weights_only`; it must cover every
            tensor of the backbone), or a checkpoint of this suite (`.ckpt`).
        out_indices: which of timm's feature stages to return (default: all).
        **kwargs: passed to `timm.create_model` (e.g. drop_path_rate).
    """

    def __init__(self, model_name: str, pretrained: str | None = None, out_indices: list[int] | None = None,
                 **kwargs):
        super().__init__()
        import timm
        if model_name not in timm.list_models():
            close = difflib.get_close_matches(model_name, timm.list_models(), n=5)
            raise ValueError(f"backbone.model_name: unknown timm model '{model_name}'. Close matches: {close}. "
                             f"See timm.list_models() for all names.")
        create = dict(features_only=True, **kwargs)
        if out_indices is not None:
            create["out_indices"] = tuple(out_indices)
        if pretrained is True:  # `pretrained: true`: timm's default weights of the architecture
            pretrained = model_name
        pretrained = check_spec(pretrained)
        suite_file = None
        if pretrained and (Path(pretrained).is_file() or looks_like_path(pretrained)):
            if str(pretrained).endswith(".ckpt"):
                suite_file = pretrained  # our own checkpoint: load after building
                self.model = timm.create_model(model_name, **create)
            else:  # a timm-layout file: timm filters the head and loads it
                if not Path(pretrained).is_file():
                    raise PretrainedWeightsError(f"backbone.pretrained: file not found: {pretrained}")
                expected = (f"a state dict of timm '{model_name}' in timm's layout is expected, e.g. "
                            f"torch.save(timm.create_model('{model_name}', ...).state_dict(), path)")
                try:
                    with _timm_missing_keys() as missing:
                        self.model = timm.create_model(model_name, pretrained=True,
                                                       pretrained_cfg_overlay=dict(file=str(pretrained)), **create)
                except (RuntimeError, KeyError, ValueError, pickle.UnpicklingError) as err:
                    raise PretrainedWeightsError(
                        f"backbone.pretrained: cannot load {pretrained} into timm '{model_name}' ({expected}): "
                        f"{err}") from err
                # features_only makes timm load non-strictly (the classifier is dropped): a file of another
                # architecture would leave layers at random init with only a log line. Refuse that.
                head = getattr(timm.models.get_pretrained_cfg(model_name), "classifier", None) or ()
                heads = (head,) if isinstance(head, str) else tuple(head)
                missing = [k for k in missing if not k.endswith("num_batches_tracked")
                           and not any(k.startswith(f"{h}.") for h in heads)]
                if missing:
                    raise PretrainedWeightsError(
                        f"backbone.pretrained: {pretrained} lacks {len(missing)} tensors of timm '{model_name}', "
                        f"e.g. {missing[:3]}: the weights are for another architecture ({expected})")
        elif pretrained:
            if pretrained.split(".")[0] != model_name:
                raise ValueError(f"backbone.pretrained: tag '{pretrained}' is not for backbone.model_name "
                                 f"'{model_name}'; use '{model_name}.<tag>' "
                                 f"(see timm.list_pretrained('{model_name}*'))")
            self.model = create_timm_pretrained(pretrained, **create)
        else:
            self.model = timm.create_model(model_name, **create)
        info = self.model.feature_info
        self.feature_info = [FeatureInfo(name, ch, red) for name, ch, red in
                             zip(info.module_name(), info.channels(), info.reduction())]
        self.pretrained_cfg = getattr(self.model, "pretrained_cfg", {})
        if suite_file:
            load_pretrained(self, suite_file)

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return OrderedDict(zip((f.name for f in self.feature_info), self.model(images)))
