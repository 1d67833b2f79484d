"""Where embedded default datasets are generated, and how they are generated safely.

Generation is atomic (written to a temporary sibling folder, then renamed) and guarded by a file lock, so an
interrupted generation never leaves a half dataset that looks complete, and DDP ranks started together generate it
once. A dataset counts as complete only when its marker file holds the same generator parameters.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = ".complete.json"


def default_cache_dir() -> Path:
    """`$MOBILENET_SUITE_CACHE`, else `<repo>/.cache` (git-ignored)."""
    return Path(os.environ.get("MOBILENET_SUITE_CACHE", REPO_ROOT / ".cache")).expanduser()


def merge_params(defaults: dict, overrides: dict | None) -> dict:
    """A generator's defaults overridden by `overrides` (Hydra's data.generator); an unknown key is an error."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise KeyError(f"data.generator: unknown parameter(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **overrides}


def generated_folder(base_name: str, params: dict, defaults: dict, cache_dir: str | Path | None = None) -> Path:
    """Where a generated dataset lives: `<cache>/<base_name>` for the default parameters, else suffixed by a hash
    of the parameters, so runs with different generator settings never regenerate each other's data underneath a
    running job."""
    name = base_name
    if params != defaults:
        name += "-" + hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()).expanduser() / name


def is_complete(folder: Path, params: dict) -> bool:
    try:
        return json.loads((folder / MARKER).read_text()) == params
    except (OSError, ValueError):
        return False


def ensure_generated(folder: str | Path, params: dict, generate: Callable[[Path], None]) -> Path:
    """Return `folder`, first calling `generate(tmp_folder)` unless it already holds a complete dataset made with
    `params` (a JSON-serialisable dict). A missing, incomplete or differently-parametrised folder is regenerated."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if is_complete(folder, params):
        return folder
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(folder, params):  # another process made it while we waited
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            generate(tmp)
            (tmp / MARKER).write_text(json.dumps(params, sort_keys=True))
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
