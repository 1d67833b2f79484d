"""Photo geolocation as classification over adaptive S2 cells (PlaNet; the paper's Table 11).

One classifier head per partitioning (data.geocells: coarse / middle / fine), trained with cross-entropy (label
smoothing by config); a photo's cell in each partitioning is looked up from its coordinates (photos in a dropped
region are left out of that head's loss). Prediction: the finest partitioning's cell with the highest score,
where with `hierarchical=true` a cell's score is the product of its own probability and those of the coarser cells
containing it (Mueller-Budack et al. 2018); the predicted location is the mean coordinate of that cell's training
photos (`location=mean`) or its centre (`location=centre`).

Distances are great-circle (haversine on a sphere of radius 6371 km, the mean Earth radius, as PlaNet,
Mueller-Budack et al. and OSV-5M use); a photo counts as located within d km when its error is <= d.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from backbone import Backbone

from .core.heads import pooled_head
from .core.io import save_figure, subplots
from .core.module import TaskModule

EARTH_RADIUS_KM = 6371.0
THRESHOLDS_KM = (1, 25, 200, 750, 2500)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points in degrees (numpy broadcasting)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = phi2 - phi1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def distance_metrics(errors_km: np.ndarray, thresholds: Sequence[float] = THRESHOLDS_KM) -> dict[str, float]:
    """Share of photos within each threshold (<=) and the median error."""
    found = {f"acc_{t:g}km": float((errors_km <= t).mean()) for t in thresholds}
    found["median_km"] = float(np.median(errors_km))
    return found


class GeolocationTask(TaskModule):
    """Backbone -> global average pool -> dropout -> one linear head per partitioning.

    Args:
        backbone: any suite backbone.
        partition: the partition into cells (from the data module; saved in the checkpoint).
        hierarchical: score the finest cells with their coarser ancestors' probabilities.
        location: "mean" (of the cell's training photos) or "centre" (of the S2 cell).
        label_smoothing, dropout, optimizer, scheduler, channels_last: see tasks.core.module.TaskModule.
    """

    def __init__(self, backbone: Backbone, partition: dict[str, Any], hierarchical: bool = True,
                 location: str = "mean", label_smoothing: float = 0.0, dropout: float = 0.0,
                 optimizer: dict[str, Any] | None = None, scheduler: dict[str, Any] | None = None,
                 channels_last: bool = True):
        super().__init__(backbone, optimizer, scheduler, channels_last)
        if location not in ("mean", "centre"):
            raise ValueError(f"model.location must be 'mean' or 'centre', got {location!r}")
        self.save_hyperparameters(ignore=["backbone"])
        from data.geocells import CellLookup
        self.partition, self.hierarchical, self.label_smoothing = partition, hierarchical, label_smoothing
        self.lookup = CellLookup(partition)
        self.sizes = [len(p["cells"]) for p in partition["partitionings"]]
        self.names = [p["name"] for p in partition["partitionings"]]
        self.ancestors = [torch.from_numpy(a) for a in self.lookup.ancestors()] if hierarchical else []
        key = "mean" if location == "mean" else "centre"
        self.cell_locations = np.asarray([c[key] for c in partition["partitionings"][-1]["cells"]], dtype=np.float64)
        self.pool = pooled_head(backbone.num_features, None, dropout)
        self.heads = nn.ModuleList(nn.Linear(backbone.num_features, size) for size in self.sizes)
        self._collected: list[tuple[np.ndarray, np.ndarray]] = []
        self.test_errors: np.ndarray | None = None
        self.test_predictions: np.ndarray | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Every partitioning's cell logits, concatenated (B, sum of cells): coarse first."""
        features = self.pool(next(reversed(self.backbone(images).values())))
        return torch.cat([head(features) for head in self.heads], dim=1)

    def cell_scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, finest cells) scores: the finest head's probabilities, times the coarser ones' (hierarchical)."""
        parts = torch.split(logits.float(), self.sizes, dim=1)
        scores = parts[-1].softmax(1)
        for part, ancestors in zip(parts[:-1], self.ancestors):
            scores = scores * part.softmax(1)[:, ancestors.to(part.device)]
        return scores

    def locate(self, logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(predicted [B, 2] lat/lon, predicted finest cell index [B])."""
        cells = self.cell_scores(logits).argmax(1).cpu().numpy()
        return self.cell_locations[cells], cells

    def describe(self, outputs: torch.Tensor, top_k: int = 5, threshold: float = 0.5) -> list[dict[str, Any]]:
        """The predicted location, and the top-k cells of the finest partitioning with their scores."""
        scores = self.cell_scores(outputs)
        top = scores.topk(min(top_k, scores.shape[1]), dim=1)
        cells = self.partition["partitionings"][-1]["cells"]
        return [{"lat": float(self.cell_locations[i[0]][0]), "lon": float(self.cell_locations[i[0]][1]),
                 "cells": [{"token": cells[c]["token"], "score": round(s, 6)} for c, s in zip(i.tolist(), v.tolist())]}
                for v, i in zip(top.values, top.indices)]

    # --------------------------------------------------------------------------------------------- training
    def _loss(self, logits: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        cells = torch.from_numpy(self.lookup.cells(*coords.double().cpu().numpy().T)).to(logits.device)
        losses = []
        for p, part in enumerate(torch.split(logits.float(), self.sizes, dim=1)):
            target = cells[:, p]
            if (target >= 0).any():
                losses.append(F.cross_entropy(part, target, ignore_index=-1, label_smoothing=self.label_smoothing))
        return torch.stack(losses).sum() if losses else logits.sum() * 0

    def training_step(self, batch, batch_idx):
        images, coords = batch
        loss = self._loss(self(images), coords)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        return loss

    def _evaluate(self, batch, stage: str) -> None:
        images, coords = batch
        logits = self(images)
        self.log(f"{stage}/loss", self._loss(logits, coords), batch_size=len(images), sync_dist=True)
        predicted, _ = self.locate(logits)
        self._collected.append((coords.double().cpu().numpy(), predicted))

    def _log_epoch(self, stage: str) -> None:
        truth = np.concatenate([t for t, _ in self._collected])
        predicted = np.concatenate([p for _, p in self._collected])
        self._collected = []
        errors = haversine_km(truth[:, 0], truth[:, 1], predicted[:, 0], predicted[:, 1])
        for key, value in distance_metrics(errors).items():
            self.log(f"{stage}/{key}", value, prog_bar=key == "acc_750km" and stage == "val")
        if stage == "test":
            self.test_errors, self.test_predictions = errors, predicted

    def on_validation_epoch_start(self) -> None:
        self._collected = []

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        if self._collected:
            self._log_epoch("val")

    def on_test_epoch_start(self) -> None:
        self._collected = []

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    # ----------------------------------------------------------------------------------------------- report
    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """Baselines (the most populated cell; a random training photo's location), the partition's cell counts,
        Table 11's table, partition.json, the world map and the error-vs-distance curve."""
        from data.geocells import save_partition
        dm = self.trainer.datamodule
        truth, train = dm.coordinates("test"), dm.coordinates("train")
        finest = self.partition["partitionings"][-1]["cells"]
        busiest = max(finest, key=lambda c: c["count"])["mean"]
        rng = np.random.default_rng(0)
        random_train = train[rng.integers(0, len(train), len(truth))]
        baselines = {
            "most_populated_cell": haversine_km(truth[:, 0], truth[:, 1], busiest[0], busiest[1]),
            "random_training_photo": haversine_km(truth[:, 0], truth[:, 1], random_train[:, 0], random_train[:, 1]),
        }
        extra: dict[str, Any] = {
            "baselines": {name: distance_metrics(errors) for name, errors in baselines.items()},
            "cells": {p["name"]: {"cells": len(p["cells"]), "t_min": p["t_min"], "t_max": p["t_max"],
                                  "dropped_photos": p["dropped"]} for p in self.partition["partitionings"]},
            "hierarchical": self.hierarchical,
        }
        save_partition(self.partition, self.output_dir / "partition.json")
        extra["partition_file"] = str(self.output_dir / "partition.json")
        plots = [self.output_dir / "world_map.png", self.output_dir / "error_vs_distance.png"]
        plot_world(truth, self.test_predictions, self.partition, plots[0])
        plot_error_curves({"model": self.test_errors, **baselines}, plots[1])
        extra["plots"] = [str(p) for p in plots]
        print_table(results, extra)
        return extra


def print_table(results: dict[str, Any], extra: dict[str, Any]) -> None:
    """Table 11's shape: accuracy at each distance, with the median error, params and mult-adds."""
    heads = " | ".join(f"{t:g} km" for t in THRESHOLDS_KM)
    lines = [f"| Model | {heads} | median km | M Params | M Mult-Adds |", "|---|" + "---|" * (len(THRESHOLDS_KM) + 3)]
    rows = [(f"{results['backbone']} @ {results['image_size']}", results["metrics"], results["params"],
             results["mult_adds"])]
    rows += [(name.replace("_", " "), metrics, None, None) for name, metrics in extra["baselines"].items()]
    for name, metrics, params, mult_adds in rows:
        accuracies = " | ".join(f"{100 * metrics[f'acc_{t:g}km']:.1f}%" for t in THRESHOLDS_KM)
        lines.append(f"| {name} | {accuracies} | {metrics['median_km']:.0f} | "
                     f"{'' if params is None else f'{params / 1e6:.2f}'} | "
                     f"{'' if mult_adds is None else f'{mult_adds / 1e6:.1f}'} |")
    cells = ", ".join(f"{n}: {c['cells']} cells (t_min {c['t_min']}, t_max {c['t_max']}, {c['dropped_photos']} photos "
                      f"dropped)" for n, c in extra["cells"].items())
    lines.append(f"Partition: {cells}; prediction {'hierarchical' if extra['hierarchical'] else 'finest cells'}.")
    print("\n".join(lines), flush=True)


def plot_world(truth: np.ndarray, predicted: np.ndarray, partition: dict[str, Any], path: Path,
               shown: int = 300) -> None:
    """An equirectangular world map drawn offline (land from global-land-mask), the finest cells' outlines, and
    true vs predicted locations of up to `shown` test photos joined by lines."""

    from data.geocells import cell_vertices
    fig, ax = subplots(figsize=(11, 5.6))
    from data.generate.world import LandMask  # global-land-mask's bundled mask, read without its 1 GB unpacking
    mask = LandMask()
    land = np.asarray([[mask.is_land(a, o) for o in np.linspace(-180, 180, 721)] for a in np.linspace(-90, 90, 361)])
    ax.imshow(land, origin="lower", extent=(-180, 180, -90, 90), cmap="Greys", vmin=0, vmax=4,
              interpolation="nearest")
    for cell in partition["partitionings"][-1]["cells"]:
        corners = np.asarray(cell_vertices(cell["token"]) + cell_vertices(cell["token"])[:1])
        if np.ptp(corners[:, 1]) < 180:  # cells across the antimeridian are left undrawn
            ax.plot(corners[:, 1], corners[:, 0], color="tab:green", linewidth=0.4, alpha=0.6)
    picked = np.linspace(0, len(truth) - 1, min(shown, len(truth))).astype(int)
    for i in picked:
        if abs(truth[i, 1] - predicted[i, 1]) < 180:
            ax.plot([truth[i, 1], predicted[i, 1]], [truth[i, 0], predicted[i, 0]], color="grey", linewidth=0.3)
    ax.scatter(truth[picked, 1], truth[picked, 0], s=5, color="tab:blue", label="true location")
    ax.scatter(predicted[picked, 1], predicted[picked, 0], s=5, color="tab:red", marker="x", label="predicted")
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(f"test photos and the {len(partition['partitionings'][-1]['cells'])} cells of "
                 f"'{partition['partitionings'][-1]['name']}'")
    save_figure(fig, path, dpi=110)


def plot_error_curves(errors: dict[str, np.ndarray], path: Path) -> None:
    """Share of test photos located within d km, against d (log x), for the model and the baselines."""
    fig, ax = subplots(figsize=(6, 4))
    grid = np.logspace(0, math.log10(20_000), 300)
    for name, values in errors.items():
        ax.plot(grid, [(values <= d).mean() for d in grid], label=name.replace("_", " "))
    for t in THRESHOLDS_KM:
        ax.axvline(t, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("distance d (km)")
    ax.set_ylabel("share of test photos within d")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=120)
