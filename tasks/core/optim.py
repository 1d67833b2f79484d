"""Optimizers and learning-rate schedules chosen by config, shared by every task.

The paper trains with RMSprop and "very little or no weight decay on the depthwise filters since there are so few
parameters in them": `depthwise_weight_decay` (default 0) applies to depthwise conv weights, and BN/bias parameters
get no weight decay either (standard practice).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

OPTIMIZERS = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam,
              "adamw": torch.optim.AdamW}
SCHEDULERS = ("none", "cosine", "step", "exponential", "onecycle")


def parameter_groups(model: nn.Module, weight_decay: float, depthwise_weight_decay: float) -> list[dict]:
    """Split parameters into decayed weights, depthwise conv weights, and never-decayed BN/bias."""
    decay, depthwise, no_decay = [], [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if isinstance(module, nn.Conv2d) and name == "weight" and module.groups > 1 \
                    and module.groups == module.in_channels:
                depthwise.append(param)
            elif param.ndim <= 1:  # biases, BN/LN affine
                no_decay.append(param)
            else:
                decay.append(param)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": depthwise, "weight_decay": depthwise_weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, name: str = "rmsprop", lr: float = 0.01, weight_decay: float = 4e-5,
                    depthwise_weight_decay: float = 0.0, **kwargs: Any) -> torch.optim.Optimizer:
    """`name` in OPTIMIZERS; extra kwargs (momentum, eps, alpha, betas, ...) go to the torch optimizer."""
    if name not in OPTIMIZERS:
        raise ValueError(f"model.optimizer.name: unknown optimizer '{name}', choose one of {sorted(OPTIMIZERS)}")
    groups = parameter_groups(model, weight_decay, depthwise_weight_decay)
    return OPTIMIZERS[name](groups, lr=lr, **kwargs)


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, name: str = "cosine",
                    warmup_steps: int = 0, step_size: int = 1000, gamma: float = 0.1,
                    min_lr_ratio: float = 0.0) -> dict | None:
    """A per-step schedule (Lightning `lr_scheduler` dict) or None.

    cosine: linear warm-up then cosine decay to `min_lr_ratio` x lr over `total_steps`; step: x`gamma` every
    `step_size` steps; exponential: x`gamma` every `step_size` steps, smoothly (the paper's detectors: 0.95 per
    800k steps); onecycle: torch's OneCycleLR."""
    if name not in SCHEDULERS:
        raise ValueError(f"model.scheduler.name: unknown schedule '{name}', choose one of {SCHEDULERS}")
    if name == "none":
        return None
    total_steps = max(1, total_steps)
    if name == "onecycle":
        max_lrs = [g["lr"] for g in optimizer.param_groups]
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total_steps)
    else:
        def factor(step: int) -> float:
            if step < warmup_steps:
                return (step + 1) / warmup_steps
            if name == "cosine":
                progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
                return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
            if name == "step":
                return gamma ** (step // step_size)
            return gamma ** (step / step_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"scheduler": scheduler, "interval": "step"}
