"""Heads shared by the task modules."""
from __future__ import annotations

from torch import nn


def pooled_head(in_channels: int, out_features: int | None, dropout: float = 0.0) -> nn.Sequential:
    """Global average pooling, flatten, dropout and (unless `out_features` is None) a linear layer: the paper's
    classifier on the deepest tap."""
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout)]
    if out_features is not None:
        layers.append(nn.Linear(in_channels, out_features))
    return nn.Sequential(*layers)
