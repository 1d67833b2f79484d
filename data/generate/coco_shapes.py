"""Synthetic detection data ("shapes"), written as a real COCO dataset so the real COCO reader reads it.

Why synthetic: the suite works offline and `task=ssd` must train to a meaningful COCO mAP in minutes on a CPU. Six
shape categories (circle, square, triangle, star, cross, ring), each with its own hue band (+-`hue_jitter`; any
saturation and brightness), as real classes often have typical colours: from scratch, a shape-only cue needs far
more than a few minutes of CPU training (`hue_jitter: 0.5` gives any colour); rotations and aspect jitter; sizes
mostly 12-60 % of the shorter image side plus a share of small ones (6-12 %); overlaps with limited occlusion
(every object stays at least `min_visible` visible, so a box always holds a recognisable object); a textured
background with clutter strokes and blobs in any colour; occluding strokes in front; pixel noise and JPEG; some
empty images and a few crowd regions (clusters of tiny shapes, iscrowd=1).

Layout written (that of COCO 2017):
    annotations/instances_train2017.json, annotations/instances_val2017.json
    train2017/<image id, 12 digits>.jpg, val2017/<image id, 12 digits>.jpg
Each json holds info, licenses, images (id, file_name, width, height), annotations (id, image_id, category_id,
bbox [x, y, w, h] tight around the visible pixels of the drawn shape, area = visible pixel count, iscrowd,
segmentation as compressed RLE of the visible mask) and categories (id, name, supercategory) with NON-contiguous
ids, as real COCO has, so the label mapping is exercised. Image ids are non-contiguous too.

Generation is deterministic: every image has its own seed derived from (seed, split, index).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_util

from data.cache import ensure_embedded, generated_folder, merge_params

DEFAULT_PARAMS: dict = {
    "version": 2,             # bump when the drawing code changes, so caches are regenerated
    "seed": 0,
    "train_images": 1600,
    "val_images": 250,
    "min_side": 160,          # image width and height are drawn independently from [min_side, max_side]
    "max_side": 192,
    "max_objects": 4,         # objects per non-empty image: uniform in 1..max_objects (fewer if they do not fit)
    "empty_prob": 0.07,       # share of images without any object
    "small_prob": 0.08,       # share of small objects (6-12 % of the shorter side); the others 12-60 %, log-uniform
    "min_visible": 0.6,       # every object keeps at least this fraction of its pixels visible (occlusion limit)
    "clutter": 1,             # mean number of background clutter strokes and blobs
    "occluder_prob": 0.1,     # chance per image of a clutter stroke drawn in front of the objects
    "crowd_prob": 0.03,       # chance per non-empty image of a crowd region (iscrowd=1: a cluster of tiny shapes)
    "texture": 0.2,           # largest blend weight of the mottled texture over the smooth background field
    "hue_jitter": 0.06,       # object hue: its category's own hue (k/6 of the wheel) +- this; 0.5: any colour
    "noise": 3.0,             # largest std of the per-image Gaussian pixel noise (0..255 scale)
    "jpeg_quality": 90,
}
DEFAULT_FOLDER_NAME = "coco_shapes_generated"
SPLITS = ("train2017", "val2017")

# (COCO category id, name): ids deliberately non-contiguous, like COCO's 1..90 with gaps.
CATEGORIES: list[tuple[int, str]] = [(1, "circle"), (3, "square"), (7, "triangle"), (8, "star"), (12, "cross"),
                                     (20, "ring")]
SUPERSAMPLE = 2  # draw at 2x and downsample: anti-aliased edges, and boxes tight to half a pixel


# ---------------------------------------------------------------------------------------------------- geometry
def regular(radii: np.ndarray, offset: float = -math.pi / 2) -> np.ndarray:
    """Polygon with vertices at equal angles and the given radii (star, triangle)."""
    t = offset + np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    return np.stack([radii * np.cos(t), radii * np.sin(t)], 1)


def ellipse(rx: float, ry: float, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([rx * np.cos(t), ry * np.sin(t)], 1)


def shape_polygons(name: str, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """One shape in its own frame (fits in [-1, 1]^2): the outer polygon and the polygons of its holes."""
    if name == "circle":
        return ellipse(1.0, rng.uniform(0.85, 1.0)), []
    if name == "square":
        a = rng.uniform(0.8, 1.0)
        return np.array([[-1, -a], [1, -a], [1, a], [-1, a]], dtype=float), []
    if name == "triangle":
        return regular(rng.uniform(0.85, 1.0, 3)), []
    if name == "star":
        inner = rng.uniform(0.38, 0.5)
        return regular(np.tile([1.0, inner], 5)), []
    if name == "cross":
        w, b = rng.uniform(0.26, 0.36), rng.uniform(0.85, 1.0)
        return np.array([[-w, -1], [w, -1], [w, -w], [b, -w], [b, w], [w, w], [w, 1], [-w, 1], [-w, w], [-b, w],
                         [-b, -w], [-w, -w]], dtype=float), []
    if name == "ring":
        ry, inner = rng.uniform(0.85, 1.0), rng.uniform(0.5, 0.64)
        return ellipse(1.0, ry), [ellipse(inner, ry * inner)]
    raise ValueError(f"unknown shape {name!r}")


def place(polygons: list[np.ndarray], rng: np.random.Generator, radius: float, size: tuple[int, int],
          centre: np.ndarray | None = None) -> list[np.ndarray]:
    """Random rotation, scale (`radius` px for a unit coordinate) and position (else `centre`); up to about a
    third of a shape may fall outside the image (truncated objects, as in real photos)."""
    angle = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(angle), math.sin(angle)
    if centre is None:
        margin = 0.4 * radius
        centre = np.array([rng.uniform(margin, max(margin, size[0] - margin)),
                           rng.uniform(margin, max(margin, size[1] - margin))])
    return [p @ np.array([[c, s], [-s, c]]) * radius + centre for p in polygons]


def polygon_mask(size: tuple[int, int], outer: np.ndarray, holes: list[np.ndarray] = ()) -> np.ndarray:
    image = Image.new("L", size, 0)
    draw = ImageDraw.Draw(image)
    draw.polygon(outer.ravel().tolist(), fill=255)
    for hole in holes:
        draw.polygon(hole.ravel().tolist(), fill=0)
    return np.asarray(image) > 0


# ------------------------------------------------------------------------------------------------------ drawing
def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (all in [0, 1]) to RGB values in [0, 255]."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return 255 * (v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1))


def random_colour(rng: np.random.Generator, hue: float | None = None, hue_jitter: float = 0.5) -> np.ndarray:
    """Any colour, or (`hue` given) one within +-`hue_jitter` of `hue` (fractions of the colour wheel)."""
    h = rng.random() if hue is None else (hue + rng.uniform(-hue_jitter, hue_jitter)) % 1.0
    return hsv_to_rgb(h, rng.uniform(0.35 if hue is not None else 0.0, 1), rng.uniform(0.1, 1.0))


def contrasting_colour(rng: np.random.Generator, under: np.ndarray, hue: float | None = None,
                       hue_jitter: float = 0.5) -> np.ndarray:
    """A random colour far enough (RGB distance) from the mean of the pixels it covers to be seen."""
    under = under.reshape(-1, 3)[::max(1, under.size // 3 // 512)]  # a subsample is plenty for a mean
    mean = under.mean(0) if under.size else np.full(3, 128.0)
    best, best_distance = None, -1.0
    for _ in range(12):
        colour = random_colour(rng, hue, hue_jitter)
        distance = float(np.linalg.norm(colour - mean))
        if distance > 110:
            return colour
        if distance > best_distance:
            best, best_distance = colour, distance
    return best


def background(rng: np.random.Generator, size: tuple[int, int], texture_weight: float) -> np.ndarray:
    """Smooth colour field blended with a mottled texture: large-scale variation without object information."""
    low = rng.integers(0, 256, (rng.integers(2, 5), rng.integers(2, 5), 3), dtype=np.uint8)
    field = Image.fromarray(low).resize(size, Image.BICUBIC)
    cells = int(rng.integers(6, 30))
    texture = Image.fromarray(rng.integers(0, 256, (cells, cells), dtype=np.uint8)).resize(size, Image.BILINEAR)
    return np.asarray(Image.blend(field, texture.convert("RGB"), rng.uniform(0, texture_weight)), dtype=np.float32)


def clutter_mask(rng: np.random.Generator, size: tuple[int, int], strokes_only: bool = False) -> np.ndarray:
    """A random stroke (line, zig-zag, open arc) or irregular blob: distractors unlike any category."""
    width, height = size
    image = Image.new("L", size, 0)
    draw = ImageDraw.Draw(image)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    r = min(size) * rng.uniform(0.05, 0.3)
    line_width = int(max(SUPERSAMPLE, r * rng.uniform(0.04, 0.15)))
    kind = rng.integers(3 if strokes_only else 4)
    if kind == 0:
        a = rng.uniform(0, 2 * np.pi)
        draw.line([cx, cy, cx + 2 * r * math.cos(a), cy + 2 * r * math.sin(a)], fill=255, width=line_width)
    elif kind == 1:
        pts = np.cumsum(rng.uniform(-r, r, (int(rng.integers(3, 7)), 2)), 0) + (cx, cy)
        draw.line(pts.ravel().tolist(), fill=255, width=line_width, joint="curve")
    elif kind == 2:
        start = rng.uniform(0, 2 * np.pi)
        t = np.linspace(start, start + rng.uniform(1.0, 4.0), 24)
        draw.line(np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).ravel().tolist(), fill=255,
                  width=line_width, joint="curve")
    else:  # a lumpy blob: a smooth, strongly varying radius, so it reads as neither ellipse nor polygon
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        radii = 0.6 * r * (1 + sum(rng.uniform(0.15, 0.3) * np.cos(f * t + rng.uniform(0, 2 * np.pi))
                                   for f in (2, 3, 5)))
        draw.polygon(np.stack([cx + radii * np.cos(t), cy + radii * np.sin(t)], 1).ravel().tolist(), fill=255)
    return np.asarray(image) > 0


def paint(canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray, rng: np.random.Generator,
          outline: bool = False) -> None:
    """Fill `mask` with `colour` under a soft linear shading, and optionally a darker or lighter outline."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return
    window = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # work on the shape's box only: much faster
    local, patch = mask[window], canvas[window]
    direction = rng.normal(size=2)
    yy, xx = np.mgrid[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ramp = (xx * direction[0] + yy * direction[1]) / (np.linalg.norm(direction) * max(canvas.shape[:2]))
    shade = 1.0 + rng.uniform(0, 0.6) * (ramp - ramp[local].mean())
    patch[local] = np.clip(colour * shade[local][:, None], 0, 255)
    if outline:  # pixels of the shape within SUPERSAMPLE steps (4-neighbour) of its outside: a 1 px line
        inner = local
        for _ in range(SUPERSAMPLE):
            padded = np.pad(inner, 1)
            inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & inner
        patch[local & ~inner] = np.clip(colour * rng.choice([0.45, 1.6]), 0, 255)


def keeps_visible(objects: list[dict], mask: np.ndarray, min_visible: float) -> bool:
    """Whether every object keeps `min_visible` of its drawn pixels visible if `mask` is painted over it."""
    return all(np.count_nonzero(o["visible"] & ~mask) >= min_visible * o["drawn"] for o in objects)


def draw_object(canvas: np.ndarray, objects: list[dict], name: str, radius: float, rng: np.random.Generator,
                min_visible: float, hue: float, hue_jitter: float) -> np.ndarray | None:
    """Place and paint one shape if, after up to 15 placements, one leaves every earlier object `min_visible`
    visible; returns its mask, or None (not drawn)."""
    size = (canvas.shape[1], canvas.shape[0])
    outer, holes = shape_polygons(name, rng)
    for _ in range(15):
        placed = place([outer, *holes], rng, radius, size)
        mask = polygon_mask(size, placed[0], placed[1:])
        if np.count_nonzero(mask) < 16:  # (almost) entirely outside the image
            continue
        if keeps_visible(objects, mask, min_visible):
            break
    else:
        return None
    paint(canvas, mask, contrasting_colour(rng, canvas[mask], hue, hue_jitter), rng, outline=rng.random() < 0.4)
    return mask


def render(rng: np.random.Generator, params: dict) -> tuple[Image.Image, list[dict]]:
    """One image and its objects: [{"category_id", "iscrowd", "visible" (its visible pixels, supersampled)}].
    An object's extent is `fraction` of the shorter side (a few small, most log-uniform in 12-60 %)."""
    width, height = (int(rng.integers(params["min_side"], params["max_side"] + 1)) for _ in range(2))
    size = (width * SUPERSAMPLE, height * SUPERSAMPLE)
    canvas = background(rng, size, params["texture"])
    for _ in range(rng.poisson(params["clutter"])):
        paint(canvas, clutter_mask(rng, size), random_colour(rng), rng)

    names = [name for _, name in CATEGORIES]
    ids = [cid for cid, _ in CATEGORIES]
    objects: list[dict] = []   # category_id, iscrowd, visible (supersampled mask), drawn (its pixel count)
    empty = rng.random() < params["empty_prob"]
    side = min(size)
    if not empty and rng.random() < params["crowd_prob"]:  # behind the other objects
        k = int(rng.integers(len(CATEGORIES)))
        centre = rng.uniform(0.25, 0.75, 2) * size
        union = np.zeros(size[::-1], dtype=bool)
        for _ in range(int(rng.integers(5, 10))):
            outer, holes = shape_polygons(names[k], rng)
            polys = [outer, *holes]
            radius = side * rng.uniform(0.025, 0.04)
            placed = place(polys, rng, radius, size, centre + rng.uniform(-0.12, 0.12, 2) * side)
            mask = polygon_mask(size, placed[0], placed[1:])
            paint(canvas, mask, contrasting_colour(rng, canvas[mask]), rng)
            union |= mask
        if union.any():
            objects.append({"category_id": ids[k], "iscrowd": 1, "visible": union, "drawn": np.count_nonzero(union)})
    if not empty:
        for _ in range(int(rng.integers(1, params["max_objects"] + 1))):
            k = int(rng.integers(len(CATEGORIES)))
            fraction = (rng.uniform(0.06, 0.12) if rng.random() < params["small_prob"]
                        else math.exp(rng.uniform(math.log(0.12), math.log(0.6))))
            mask = draw_object(canvas, objects, names[k], fraction * side / 2, rng, params["min_visible"],
                               k / len(CATEGORIES), params["hue_jitter"])
            if mask is None:
                continue
            for o in objects:
                o["visible"] = o["visible"] & ~mask
            objects.append({"category_id": ids[k], "iscrowd": 0, "visible": mask, "drawn": np.count_nonzero(mask)})
    if rng.random() < params["occluder_prob"]:
        occluder = clutter_mask(rng, size, strokes_only=True)
        if keeps_visible(objects, occluder, params["min_visible"]):
            paint(canvas, occluder, random_colour(rng), rng)
            for o in objects:
                o["visible"] = o["visible"] & ~occluder

    image = Image.fromarray(canvas.astype(np.uint8)).resize((width, height), Image.BOX)
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.normal(0, rng.uniform(0, params["noise"]), pixels.shape)
    image = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
    return image, [{"category_id": o["category_id"], "iscrowd": o["iscrowd"], "visible": o["visible"]}
                   for o in objects]


def annotation(obj: dict, ann_id: int, image_id: int) -> dict | None:
    """The COCO annotation of one drawn object: box tight around its visible supersampled pixels (so to half a
    pixel), area and RLE of the visible mask at image resolution (a pixel is in when half of it is covered)."""
    visible = obj["visible"]
    ys, xs = np.nonzero(visible)
    if len(ys) == 0:
        return None
    x0, y0 = xs.min() / SUPERSAMPLE, ys.min() / SUPERSAMPLE
    x1, y1 = (xs.max() + 1) / SUPERSAMPLE, (ys.max() + 1) / SUPERSAMPLE
    h, w = visible.shape[0] // SUPERSAMPLE, visible.shape[1] // SUPERSAMPLE
    coverage = np.asarray(Image.fromarray(visible.astype(np.uint8) * 255).resize((w, h), Image.BOX),
                          dtype=np.float32) / 255  # fraction of each image pixel covered
    # at least half covered (0.4: PIL rounds the exact halves of the 2x2 means either way)
    rle = mask_util.encode(np.asfortranarray((coverage >= 0.4).astype(np.uint8)))
    area = np.count_nonzero(visible) / SUPERSAMPLE ** 2
    return {"id": ann_id, "image_id": image_id, "category_id": obj["category_id"],
            "bbox": [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
            "area": round(area, 2), "iscrowd": obj["iscrowd"],
            "segmentation": {"size": [int(h), int(w)], "counts": rle["counts"].decode("ascii")}}


# -------------------------------------------------------------------------------------------------- generation
def resolve_params(generator: dict | None = None) -> dict:
    """Defaults overridden by `generator` (e.g. Hydra's data.generator); unknown keys are an error."""
    params = merge_params(DEFAULT_PARAMS, generator)
    if not 16 <= params["min_side"] <= params["max_side"]:
        raise ValueError(f"data.generator: need 16 <= min_side <= max_side, got {params['min_side']}, "
                         f"{params['max_side']}")
    return params


def generate_coco_shapes(out_dir: str | Path, params: dict | None = None) -> Path:
    """Write the whole dataset under `out_dir` (see module docstring). Same params -> identical files."""
    params = resolve_params(params)
    out_dir = Path(out_dir)
    (out_dir / "annotations").mkdir(parents=True, exist_ok=True)
    counts = {"train2017": params["train_images"], "val2017": params["val_images"]}
    categories = [{"id": cid, "name": name, "supercategory": "shape"} for cid, name in CATEGORIES]
    for split_id, split in enumerate(SPLITS):
        (out_dir / split).mkdir(exist_ok=True)
        images, annotations = [], []
        for index in range(counts[split]):
            rng = np.random.default_rng([params["seed"], split_id, index])
            image, objects = render(rng, params)
            image_id = 1_000_000 * (split_id + 1) + 7 * index + 3  # non-contiguous, like COCO's
            file_name = f"{image_id:012d}.jpg"
            image.save(out_dir / split / file_name, quality=params["jpeg_quality"])
            images.append({"id": image_id, "file_name": file_name, "width": image.width, "height": image.height,
                           "license": 1})
            for obj in objects:
                ann = annotation(obj, len(annotations) + 1, image_id)
                if ann is not None:
                    annotations.append(ann)
        dataset = {
            "info": {"description": "MobileNet Suite synthetic shapes (COCO format)", "version": str(params["version"]),
                     "year": 2017, "contributor": "data/generate/coco_shapes.py", "date_created": "2017-01-01"},
            "licenses": [{"id": 1, "name": "generated", "url": ""}],
            "images": images, "annotations": annotations, "categories": categories,
        }
        (out_dir / "annotations" / f"instances_{split}.json").write_text(json.dumps(dataset))
    return out_dir


def ensure_coco_shapes(generator: dict | None = None, cache_dir: str | Path | None = None) -> Path:
    """The embedded default dataset, generated once into the cache (regenerated if missing or incomplete); see
    data.cache.generated_folder for where."""
    params = resolve_params(generator)
    folder = generated_folder(DEFAULT_FOLDER_NAME, params, DEFAULT_PARAMS, cache_dir)
    return ensure_embedded("COCO shapes", folder, params, DEFAULT_PARAMS,
                           lambda tmp: generate_coco_shapes(tmp, params), seconds=20)
