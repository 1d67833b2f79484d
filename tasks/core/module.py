"""What every task module shares: a backbone, the optimizer/schedule from config, the run's output folder, and the
hooks through which the engine (tasks.engine) evaluates, predicts with and exports any task without knowing it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pytorch_lightning as pl
import torch
from torch import nn
from torchvision.transforms import v2

from backbone import Backbone
from data.transforms import classification_transforms

from .checkpoint import CONFIG_KEY
from .optim import build_optimizer, build_scheduler


@dataclass(frozen=True)
class ExportedNetwork:
    """One network a task ships (most ship one; Faster R-CNN two: features and RPN, then the box head).

    name: "" for the main file; otherwise the suffix of its own file (model.<name>.onnx).
    module: the network (eval mode), a tensor in, a tensor or a tuple of tensors out.
    inputs: builds the network's input from a list of preprocessed images (`inference_transform`'s outputs):
        real inputs to check the exported file against PyTorch and to calibrate int8 quantization.
    input_name, output_names: names in the exported file.
    dynamic_axes: the input axes whose size may vary (0: batch; 2, 3: height and width).
    """
    name: str
    module: nn.Module
    inputs: Callable[[list[torch.Tensor]], torch.Tensor]
    input_name: str = "images"
    output_names: tuple[str, ...] = ("outputs",)
    dynamic_axes: tuple[int, ...] = (0,)


class FirstOutput:
    """Stands in for a single-output task's forward: the exported network's session, its first output."""

    def __init__(self, session: Callable[[torch.Tensor], tuple[torch.Tensor, ...]]):
        self.session = session

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.session(images)[0]


class TaskModule(pl.LightningModule):
    """Base LightningModule. Subclasses build their heads around `self.backbone` and implement `forward(images)`
    (batched inference, used also to count mult-adds and time latency) and the step methods. Test metrics are
    logged as `test/<name>`; the engine writes them to results.json.

    `channels_last`: keep weights (and so activations) in NHWC memory layout from setup on: training steps 1.1-1.5x
    faster on a 2-core CPU (dogs 1.5x, SSD 1.3x, Faster R-CNN 1.1x; docs/backbones.md), and the layout GPU tensor
    cores prefer under mixed precision.

    Deployment hooks (the defaults fit a network that maps a normalised image batch to outputs): which networks to
    export (`export_networks`), how the exported ones run inside the task's own pre- and post-processing
    (`use_exported`), what an image goes through before the model (`inference_transform`, `collate`), and how
    outputs read as records and pictures (`describe`, `annotate`)."""

    def __init__(self, backbone: Backbone, optimizer: dict[str, Any] | None = None,
                 scheduler: dict[str, Any] | None = None, channels_last: bool = True):
        super().__init__()
        if not isinstance(backbone, nn.Module) or not hasattr(backbone, "feature_info"):
            raise TypeError(f"model.backbone must be a backbone.Backbone, got {type(backbone).__name__}")
        self.backbone = backbone
        self.optimizer_cfg = dict(optimizer or {})
        self.scheduler_cfg = dict(scheduler or {})
        self.channels_last = channels_last
        self.run_config: dict[str, Any] | None = None  # the run's resolved config (set by the engine)

    def setup(self, stage: str) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Every checkpoint carries the run's config, so the model can be rebuilt from the file alone
        (tasks.core.checkpoint)."""
        if self.run_config is not None:
            checkpoint[CONFIG_KEY] = self.run_config

    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """After testing, on rank 0: extra results.json entries (and files or tables) beyond the test metrics;
        `results` holds what the engine has so far (metrics, params, mult-adds, latency); `latency_repeats`: how
        many timed passes a latency measurement takes."""
        return {}

    # ------------------------------------------------------------------------------------------ deployment hooks
    def inference_transform(self, data: Mapping[str, Any]) -> v2.Compose:
        """A decoded RGB image (PIL) -> what `collate` batches for `forward`: the run's evaluation transform
        (`data`: the run's data config)."""
        return classification_transforms(False, data["image_size"], eval_crop_fraction=data.get("eval_crop_fraction",
                                                                                                 1.0),
                                         mean=data["mean"], std=data["std"])

    def collate(self, images: Sequence[torch.Tensor]) -> Any:
        """Preprocessed images -> the input of `forward` (a stacked batch)."""
        return torch.stack(list(images))

    def describe(self, outputs, top_k: int = 5, threshold: float = 0.5) -> list[dict[str, Any]]:
        """One JSON-able record per image of a batch's `forward` outputs, for predict.py."""
        raise NotImplementedError(f"{type(self).__name__} does not describe its predictions")

    def annotate(self, image: torch.Tensor, output: Any, record: dict[str, Any],
                 threshold: float = 0.5) -> torch.Tensor | None:
        """A uint8 [3, H, W] picture of one prediction drawn on its preprocessed image, or None (nothing to draw)."""
        return None

    def export_networks(self) -> list[ExportedNetwork]:
        """The networks an export writes, with how to build their inputs. Default: the module itself."""
        return [ExportedNetwork("", self, self.collate)]

    def use_exported(self, sessions: Mapping[str, Callable[[torch.Tensor], tuple[torch.Tensor, ...]]]) -> None:
        """Run the exported networks (`sessions`, by ExportedNetwork.name; each returns its outputs as a tuple) in
        place of the PyTorch ones, inside the task's own pre- and post-processing, so metrics, predictions and
        reports come from the same code. Default: forward is the main network's first output."""
        self.forward = FirstOutput(sessions[""])

    @property
    def output_dir(self) -> Path:
        """The run directory (Hydra's, set as the trainer's default_root_dir by the engine)."""
        return Path(self.trainer.default_root_dir if self._trainer is not None else ".")

    def configure_optimizers(self):
        optimizer = build_optimizer(self, **self.optimizer_cfg)
        scheduler = build_scheduler(optimizer, int(self.trainer.estimated_stepping_batches), **self.scheduler_cfg)
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}
