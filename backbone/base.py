"""The one interface between backbones and tasks.

A backbone maps images to an ordered dict of feature maps ("taps"). Tasks never look inside a backbone: they read
`feature_info` (name, channels, stride of every tap, shallow to deep) and pick taps by name or position.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import OrderedDict

import torch
from torch import nn


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    channels: int
    stride: int


class Backbone(nn.Module):
    """Base class: subclasses fill `feature_info` and return `{tap name: tensor}` from `forward`, in that order."""

    feature_info: list[FeatureInfo]

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def num_features(self) -> int:
        """Channels of the deepest tap: the input size of a classifier on globally pooled features."""
        return self.feature_info[-1].channels

    def tap(self, key: str | int) -> FeatureInfo:
        """Look a tap up by name or by position (negative counts from the deepest)."""
        if isinstance(key, int):
            try:
                return self.feature_info[key]
            except IndexError:
                raise KeyError(f"tap index {key} out of range: this backbone has {len(self.feature_info)} taps "
                               f"{[f.name for f in self.feature_info]}") from None
        for info in self.feature_info:
            if info.name == key:
                return info
        raise KeyError(f"unknown tap '{key}': this backbone's taps are {[f.name for f in self.feature_info]}")
