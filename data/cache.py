"""Where embedded default datasets are generated, and how they are generated safely.

Generation is atomic (written to a temporary sibling folder, then renamed) and guarded by a file lock, so an
interrupted generation never leaves a half dataset that looks complete, and DDP ranks started together generate it
once. A dataset counts as complete only when its marker file holds the same generator parameters. Generating an
embedded default takes tens of seconds, so `ensure_embedded` says so in one log line (INFO, which Hydra shows)
before it starts.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from .errors import DatasetError

log = logging.getLogger(__name__)

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


def fingerprint(paths: Sequence[Path]) -> str:
    """sha1 of every file's (path, size, mtime): changes when a file is replaced, edited, added or removed (what
    caches of per-file work are keyed by)."""
    digest = hashlib.sha1()
    for path in paths:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise DatasetError(f"image file not found: {path}") from None
        digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def is_complete(folder: Path, params: dict) -> bool:
    try:
        return json.loads((folder / MARKER).read_text()) == params
    except (OSError, ValueError):
        return False


def ensure_generated(folder: str | Path, params: dict, generate: Callable[[Path], None],
                     announce: str | None = None) -> Path:
    """Return `folder`, first calling `generate(tmp_folder)` unless it already holds a complete dataset made with
    `params` (a JSON-serialisable dict). A missing, incomplete or differently-parametrised folder is regenerated;
    `announce`, when given, is logged (INFO) just before generating."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if is_complete(folder, params):
        return folder
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(folder, params):  # another process made it while we waited
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        if announce:
            log.info("%s", announce)
        try:
            generate(tmp)
            (tmp / MARKER).write_text(json.dumps(params, sort_keys=True))
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def ensure_embedded(name: str, folder: Path, params: dict, defaults: dict, generate: Callable[[Path], None],
                    seconds: int) -> Path:
    """An embedded default dataset: `ensure_generated`, with one log line when it generates (`seconds`: about how
    long it takes with the `defaults` parameters on a 2-core CPU)."""
    took = f"about {seconds} s, once" if params == defaults else "once"
    return ensure_generated(folder, params, generate,
                            announce=f"generating the embedded {name} dataset into {folder} ({took})")
