"""Opening image files: the one reader every dataset, the decoded cache, the teachers and predict.py go through.

What it does beyond `PIL.Image.open(path).convert("RGB")`, and why:
- **EXIF orientation** (`PIL.ImageOps.exif_transpose`): a phone photo stored sideways with an orientation tag is
  returned as it is displayed, so a model sees faces upright and boxes drawn in a labelling tool (which shows the
  displayed image) line up. Sizes read from headers (`displayed_size`) are the displayed ones too: width and height
  swap for orientations 5-8.
- **16-bit images** (modes I;16, I;16L, I;16B, I;16N and I, e.g. 16-bit grayscale PNG or TIFF) are scaled to 8 bits
  (value / 257, rounded), where PIL's `convert("RGB")` clips them to white. 16-bit RGB(A) PNGs already open as
  8-bit RGB(A) in PIL.
- **Other modes** (palette, L, LA, RGBA, CMYK, 1, YCbCr, ...) convert to RGB; an alpha channel is dropped, as
  torchvision's, timm's and OpenCV's loaders do (a palette with a transparent entry goes through RGBA first).
- The whole file is decoded at once (PIL is lazy), so a truncated or corrupt image fails here, as a DatasetError
  naming the file.

Bad files (`data.bad_images`): `unreadable_images` screens a list of files cheaply before training (empty file,
not an image PIL recognises, PIL's `verify`, a JPEG without its end marker that does not decode either) and
either names the first bad one in a DatasetError (`error`) or returns them all to be left out (`skip`, the default,
as Ultralytics does), with a warning listing them. Results are cached by the files' fingerprint (path, size,
mtime), so a second run over the same files only stats them.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .cache import default_cache_dir, ensure_generated, fingerprint
from .errors import DatasetError

log = logging.getLogger(__name__)

ORIENTATION = ExifTags.Base.Orientation
SWAPS_SIDES = (5, 6, 7, 8)  # EXIF orientations that turn the stored image by 90 degrees
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # read as 0..65535
BAD_IMAGES = ("skip", "error")
SCREEN_VERSION = 1
LISTED = 10  # bad files named in the warning
READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB (module docstring): 16-bit modes scaled, alpha dropped, the rest converted."""
    if image.mode == "RGB":
        return image
    if image.mode in SIXTEEN_BIT:
        values = np.asarray(image).astype(np.int64).clip(0, 65535)
        return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8), "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # PIL warns when a palette with a transparent entry goes to RGB directly
    return image.convert("RGB")


def orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1: as stored). A PNG is not decoded to look for a late eXIf chunk."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        return int(image.getexif().get(ORIENTATION, 1))
    except (TypeError, ValueError, OSError, SyntaxError):  # a broken EXIF block: shown as stored, as viewers do
        return 1


def displayed_rgb(image: Image.Image) -> Image.Image:
    """An image already opened (e.g. given to predict.py's Python API) as `load_rgb` returns a file: turned as
    displayed, 8-bit RGB. The caller's image is left as it is."""
    if orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    return to_rgb(image)


def load_rgb(path: str | Path, orient: bool = True) -> Image.Image:
    """The file decoded now, turned as it is displayed (`orient`), as 8-bit RGB; a DatasetError naming the file if
    it is missing, truncated or not an image."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if orient and orientation(image) != 1:
                ImageOps.exif_transpose(image, in_place=True)
            return to_rgb(image) if image.mode != "RGB" else image.copy()
    except FileNotFoundError:
        raise DatasetError(f"image file not found: {path}") from None
    except READ_ERRORS as err:
        raise DatasetError(f"cannot read image {path}: {err}. Replace or delete the file (and its list entry), "
                           f"or set data.bad_images=skip to leave unreadable images out") from None


def displayed_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), from the header only."""
    with Image.open(path) as image:
        width, height = image.size
        return (height, width) if orientation(image) in SWAPS_SIDES else (width, height)


def image_problem(path: str | Path) -> str | None:
    """Why the file cannot be used as an image (None: it can), found cheaply: an empty file, a file PIL does not
    recognise or whose `verify` fails, a JPEG that lacks its end marker and does not decode (some cameras append
    data after the marker: those decode and are kept)."""
    path = Path(path)
    try:
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as image:
            fmt = image.format
            image.verify()
        if fmt in ("JPEG", "MPO"):
            with open(path, "rb") as f:
                f.seek(-2, os.SEEK_END)
                ended = f.read() == b"\xff\xd9"
            if not ended:
                with Image.open(path) as image:
                    image.load()
    except FileNotFoundError:
        return "file not found"
    except READ_ERRORS as err:
        return str(err) or type(err).__name__
    return None


def image_problems(paths: Sequence[Path], cache_dir: str | Path | None = None) -> dict[str, str]:
    """{path: problem} of the bad files among `paths` (`image_problem`), cached by the files' fingerprint."""
    paths = list(paths)
    params = {"version": SCREEN_VERSION, "count": len(paths), "files": fingerprint(paths)}
    folder = (Path(cache_dir) if cache_dir is not None else default_cache_dir()).expanduser() / "screened" / (
        params["files"][:16])

    def screen(tmp: Path) -> None:
        if len(paths) > 2000:
            log.info("checking %d image files once for empty, truncated or non-image files", len(paths))
        bad = {str(p): problem for p in paths if (problem := image_problem(p)) is not None}
        (tmp / "bad.json").write_text(json.dumps(bad))

    return json.loads((ensure_generated(folder, params, screen) / "bad.json").read_text())


def check_bad_images(mode: str) -> str:
    """`data.bad_images`, checked."""
    if mode not in BAD_IMAGES:
        raise ValueError(f"data.bad_images must be one of {list(BAD_IMAGES)}, got {mode!r}")
    return mode


def unreadable_images(paths: Sequence[str | Path], mode: str, what: str,
                      cache_dir: str | Path | None = None) -> list[str]:
    """The files among `paths` that cannot be read as images, in order (module docstring). `mode` "error": a
    DatasetError naming the first; "skip": returned (the caller leaves them out), with a warning naming up to
    LISTED of them. `what` names the data in the warning."""
    check_bad_images(mode)
    paths = list(dict.fromkeys(Path(p) for p in paths))
    if not paths:
        return []
    bad = image_problems(paths, cache_dir)
    if not bad:
        return []
    ordered = [str(p) for p in paths if str(p) in bad]
    if mode == "error":
        first = ordered[0]
        raise DatasetError(f"cannot read image {first}: {bad[first]} ({len(ordered)} unreadable image(s) in "
                           f"{what}). Replace or delete the file (and its list entry), or set data.bad_images=skip "
                           f"to leave unreadable images out")
    listed = ", ".join(ordered[:LISTED]) + (", ..." if len(ordered) > LISTED else "")
    log.warning("data.bad_images=skip: left out %d unreadable image(s) of %s (empty, truncated or not an image): %s",
                len(ordered), what, listed)
    return ordered
