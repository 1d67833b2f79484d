"""Writing what a run leaves behind: atomic text/JSON files and saved figures (readers never see a partial file)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename: readers (and concurrent writers) never see a partial file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False))


def save_figure(fig, path: Path, dpi: int = 120) -> Path:
    """Lay out, save (atomically, as PNG) and close a matplotlib figure (a sweep redraws its plots after every job:
    closing frees their memory)."""
    import matplotlib.pyplot as plt
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    fig.tight_layout()
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def subplots(**kwargs):
    """matplotlib's `plt.subplots(**kwargs)` on the file-only Agg backend (runs have no screen): (figure, axes)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(**kwargs)
