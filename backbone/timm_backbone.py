"""Any timm model as a suite backbone, through timm's `features_only` interface."""
from __future__ import annotations

import difflib
from collections import OrderedDict
from pathlib import Path

import torch

from .base import Backbone, FeatureInfo
from .weights import create_timm_pretrained, load_pretrained, looks_like_path


class TimmBackbone(Backbone):
    """`timm.create_model(model_name, features_only=True)`; taps are timm's feature stages, named by module.

    Args:
        model_name: a timm architecture (`timm.list_models()`), e.g. resnet50, vgg16, inception_v3.
        pretrained: a timm pretrained tag of that architecture (e.g. `resnet50.a1_in1k`), a local weights file
            (timm's layout, loaded by timm with `weights_only`), or a checkpoint of this suite.
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
        suite_file = None
        if pretrained and (Path(pretrained).is_file() or looks_like_path(pretrained)):
            if str(pretrained).endswith(".ckpt"):
                suite_file = pretrained  # our own checkpoint: load after building
                self.model = timm.create_model(model_name, **create)
            else:  # a timm-layout file: timm filters the head and loads it
                if not Path(pretrained).is_file():
                    from .weights import PretrainedWeightsError
                    raise PretrainedWeightsError(f"backbone.pretrained: file not found: {pretrained}")
                self.model = timm.create_model(model_name, pretrained=True,
                                               pretrained_cfg_overlay=dict(file=str(pretrained)), **create)
        elif pretrained:
            if pretrained.split(".")[0] != model_name:
                raise ValueError(f"backbone.pretrained: tag '{pretrained}' is not for backbone.model_name "
                                 f"'{model_name}'; use '{model_name}.<tag>' (see timm.list_pretrained('{model_name}*'))")
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
