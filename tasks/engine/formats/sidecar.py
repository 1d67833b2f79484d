"""The suite's metadata beside an exported file whose format has no metadata fields (.pte, .tflite): <file>.json."""
from __future__ import annotations

import json
from pathlib import Path


def sidecar(path: Path) -> Path:
    """Where a format without metadata fields keeps the suite's metadata: <file>.json beside it."""
    return path.with_name(path.name + ".json")


def write_sidecar(path: Path, metadata: dict[str, str]) -> None:
    sidecar(path).write_text(json.dumps(metadata, indent=1))


def read_sidecar(path: Path) -> dict[str, str]:
    """The metadata beside `path` ({} without it: a file from elsewhere)."""
    side = sidecar(path)
    return json.loads(side.read_text()) if side.is_file() else {}
