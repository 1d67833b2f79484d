"""Face verification metrics (FaceNet section 4, LFW protocol) on squared L2 distances between embeddings.

A pair is declared "same" when its distance is <= the threshold. Thresholds are exact: every distinct distance of
the pairs they are chosen on (and "accept none"), no grid and no interpolation.
- VAL(d) = true accepts / same pairs, FAR(d) = false accepts / different pairs. VAL at a target FAR uses the
  largest threshold whose FAR is <= the target. Its resolution is 1 / (number of different pairs): a target
  below it cannot be measured and is reported as not resolvable (None), never as a number.
- LFW 10-fold accuracy: for each fold, the threshold with the best accuracy on the other folds (ties: the
  smallest) is applied to the fold; mean and standard error (sample std / sqrt(folds)) over the folds.
- LFW VAL at a FAR per fold: the threshold for the target FAR on the other folds, applied to the fold.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def squared_distances(embeddings: torch.Tensor, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """||e_left - e_right||^2 per pair (float64)."""
    e = embeddings.double()
    left, right = torch.as_tensor(left), torch.as_tensor(right)
    return (e[left] - e[right]).pow(2).sum(1).numpy()


def all_pairs(identities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right, same) over every unordered pair of distinct images."""
    left, right = np.triu_indices(len(identities), k=1)
    return left, right, identities[left] == identities[right]


def sweep(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, true accepts, false accepts) for "accept none" (-inf) and every distinct distance."""
    order = np.argsort(distances, kind="stable")
    sorted_d, sorted_same = distances[order], same[order]
    last = np.flatnonzero(np.r_[sorted_d[1:] != sorted_d[:-1], True])  # last index of every distinct value
    true = np.r_[0, np.cumsum(sorted_same)[last]]
    false = np.r_[0, np.cumsum(~sorted_same)[last]]
    return np.r_[-np.inf, sorted_d[last]], true, false


def best_accuracy_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    thresholds, true, false = sweep(distances, same)
    correct = true + (int((~same).sum()) - false)
    return float(thresholds[int(np.argmax(correct))])


def far_threshold(distances: np.ndarray, same: np.ndarray, far: float) -> float | None:
    """The largest threshold with FAR <= `far`; None when `far` is below the resolution (or there is no
    different pair)."""
    negatives = int((~same).sum())
    if negatives == 0 or far < 1.0 / negatives:
        return None
    thresholds, _, false = sweep(distances, same)
    return float(thresholds[np.flatnonzero(false <= far * negatives)[-1]])


def rates(distances: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    """(VAL, FAR) at `threshold` (NaN for a kind of pair that is absent)."""
    accepted = distances <= threshold
    positives, negatives = int(same.sum()), int((~same).sum())
    val = float((accepted & same).sum() / positives) if positives else math.nan
    far = float((accepted & ~same).sum() / negatives) if negatives else math.nan
    return val, far


def val_at_far(distances: np.ndarray, same: np.ndarray, far: float) -> dict[str, Any]:
    """VAL at FAR <= `far` over these pairs: {"val", "far" (achieved), "threshold", "resolution"}; val None when
    not resolvable."""
    negatives = int((~same).sum())
    resolution = 1.0 / negatives if negatives else math.inf
    threshold = far_threshold(distances, same, far)
    if threshold is None:
        return {"val": None, "far": None, "threshold": None, "resolution": resolution}
    val, achieved = rates(distances, same, threshold)
    return {"val": val, "far": achieved, "threshold": threshold, "resolution": resolution}


def lfw_protocol(distances: np.ndarray, same: np.ndarray, fold: np.ndarray, far: float = 1e-3) -> dict[str, Any]:
    """10-fold (any number of folds) accuracy and VAL at `far` (module docstring)."""
    folds = sorted(set(fold.tolist()))
    if len(folds) < 2:
        raise ValueError(f"the LFW protocol needs at least 2 folds, the pairs have {len(folds)}")
    accuracies, vals, per_fold = [], [], []
    for k in folds:
        test, train = fold == k, fold != k
        threshold = best_accuracy_threshold(distances[train], same[train])
        accepted = distances[test] <= threshold
        accuracies.append(float((accepted == same[test]).mean()))
        far_thr = far_threshold(distances[train], same[train], far)
        row = {"fold": k + 1, "accuracy": accuracies[-1], "threshold": threshold,
               "val_threshold_resolution": 1.0 / max(int((~same[train]).sum()), 1),
               "test_far_resolution": 1.0 / max(int((~same[test]).sum()), 1)}
        if far_thr is not None:
            val, achieved = rates(distances[test], same[test], far_thr)
            vals.append(val)
            row.update({"val": val, "far": achieved})
        else:
            row.update({"val": None, "far": None})
        per_fold.append(row)
    accuracy = np.asarray(accuracies)
    return {"accuracy": float(accuracy.mean()),
            "accuracy_se": float(accuracy.std(ddof=1) / math.sqrt(len(accuracy))),
            "val": float(np.mean(vals)) if len(vals) == len(folds) else None,
            "val_se": float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) == len(folds) else None,
            "far_target": far, "folds": per_fold}


def roc_points(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, VAL) at every threshold of the sweep."""
    _, true, false = sweep(distances, same)
    return false / max(int((~same).sum()), 1), true / max(int(same.sum()), 1)


def verification_metrics(embeddings: torch.Tensor, identities: np.ndarray, pairs=None,
                         fars: tuple[float, ...] = (1e-3, 1e-4)) -> dict[str, Any]:
    """Everything one set of embeddings gives: VAL at each FAR over all pairs of the images (and the ROC AUC),
    and with `pairs` (data.identities.Pairs over the same images) the LFW protocol."""
    left, right, same = all_pairs(identities)
    distances = squared_distances(embeddings, left, right)
    found: dict[str, Any] = {"all_pairs": {"pairs": int(len(same)), "same": int(same.sum()),
                                           "different": int((~same).sum())}}
    for far in fars:
        found["all_pairs"][f"{far:g}"] = val_at_far(distances, same, far)
    x, y = roc_points(distances, same)
    found["all_pairs"]["roc_auc"] = float(np.trapezoid(y, x)) if hasattr(np, "trapezoid") else float(np.trapz(y, x))
    found["roc"] = (x, y)
    if pairs is not None:
        found["lfw"] = lfw_protocol(squared_distances(embeddings, pairs.left, pairs.right), pairs.same, pairs.fold,
                                    fars[0])
    return found
