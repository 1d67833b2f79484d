"""Synthetic fine-grained "dogs", written in the real Stanford Dogs layout so the real loader reads them.

Why synthetic: the suite works offline and its default run must finish in minutes on a CPU, yet the metric must mean
something. Each breed is a combination of discrete details (ear shape, tail shape, coat marking) that
several breeds share, so telling breeds apart needs the details; everything else varies within a breed
(pose, rotation, left/right, scale, position, muzzle length, body and marking colours, background texture, clutter, occluders,
sometimes a second dog), so memorising whole images does not help.

Layout written (the same as http://vision.stanford.edu/aditya86/ImageNetDogs/):
    Images/<wnid>-<breed>/<wnid>_<n>.jpg
    Annotation/<wnid>-<breed>/<wnid>_<n>        VOC XML without extension: <size>, one <object> per dog
    lists/train_list.mat, lists/test_list.mat     file_list, annotation_list (cells of relative paths), labels (Nx1,
                                                  1-based, in sorted folder order)
Generation is deterministic: every image has its own seed derived from (seed, split, class, index).
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import scipy.io
from PIL import Image, ImageDraw

from data.cache import ensure_embedded, generated_folder, merge_params

DEFAULT_PARAMS: dict = {
    "version": 5,             # bump when the drawing code changes, so caches are regenerated
    "seed": 0,
    "num_classes": 24,        # a seeded subset of the len(BREED_TRAITS) combinations
    "train_per_class": 120,
    "test_per_class": 30,
    "image_size": 128,        # stored images are image_size x image_size
    "jpeg_quality": 90,
    "clutter": 4,             # mean number of background clutter shapes
    "occluder_prob": 0.2,     # chance of a clutter shape drawn in front of the dog
    "second_dog_prob": 0.1,   # chance of a second, smaller dog of the same breed (two <object>s)
}
DEFAULT_FOLDER_NAME = "stanford_dogs_generated"

TRAITS: dict[str, tuple[str, ...]] = {
    "ears": ("pointed", "floppy", "round"),
    "tail": ("curled", "plume", "hanging"),
    "coat": ("plain", "spotted", "striped", "saddled"),
}
BREED_TRAITS: list[dict[str, str]] = [dict(zip(TRAITS, combo)) for combo in itertools.product(*TRAITS.values())]
SUPERSAMPLE = 2  # draw at 2x and downsample: anti-aliased edges without per-shape anti-aliasing


# ----------------------------------------------------------------------------------------------- breeds and files
def breed_name(traits: dict[str, str]) -> str:
    return f"{traits['ears']}_ears_{traits['tail']}_tail_{traits['coat']}"


def choose_breeds(params: dict) -> list[dict[str, str]]:
    """The seeded subset of trait combinations used as breeds; index = 0-based label."""
    if not 2 <= params["num_classes"] <= len(BREED_TRAITS):
        raise ValueError(f"data.generator.num_classes must be in [2, {len(BREED_TRAITS)}] (the number of trait "
                         f"combinations), got {params['num_classes']}")
    order = np.random.default_rng(params["seed"]).permutation(len(BREED_TRAITS))
    return [BREED_TRAITS[i] for i in order[:params["num_classes"]]]


def class_folder(index: int, traits: dict[str, str]) -> str:
    """`<wnid>-<breed>`; made-up wnids increase with the label, so sorted folder order is label order (as real)."""
    return f"n9{index + 1:07d}-{breed_name(traits)}"


# ---------------------------------------------------------------------------------------------------- geometry
def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1)
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]]) + (cx, cy)


def thick_polyline(points: np.ndarray, widths: np.ndarray | float) -> np.ndarray:
    """Polygon of a polyline with per-vertex width (tapered tails and legs)."""
    d = np.gradient(points, axis=0)
    normal = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)
    offset = normal * (np.broadcast_to(widths, len(points))[:, None] / 2)
    return np.concatenate([points + offset, (points - offset)[::-1]])


def arc(cx: float, cy: float, r: float, start: float, end: float, n: int = 16) -> np.ndarray:
    t = np.linspace(start, end, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (all in [0, 1]) to RGB uint8 values."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return np.round(255 * (v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1))).astype(int)


def figure_parts(traits: dict[str, str], rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """The dog in its own frame (body length 1, head towards +x, y down), as polygons grouped by draw layer."""
    body_ry = 0.18 * rng.uniform(0.8, 1.2)
    head_r = 0.14 * rng.uniform(0.85, 1.15)
    hx, hy = 0.52 + rng.uniform(-0.04, 0.04), -0.2 + rng.uniform(-0.12, 0.08)
    body = ellipse(0, 0, 0.5, body_ry)
    neck = thick_polyline(np.array([[0.33, -0.03], [hx, hy]]), 0.17)

    legs_far, legs_near = [], []
    for i, x in enumerate((-0.38, -0.28, 0.26, 0.36)):
        top = np.array([x, body_ry * 0.5])
        angle = math.pi / 2 + rng.uniform(-0.45, 0.45)
        length = 0.33 * rng.uniform(0.85, 1.15)
        foot = top + length * np.array([math.cos(angle), math.sin(angle)])
        (legs_far if i % 2 == 0 else legs_near).append(thick_polyline(np.stack([top, foot]), np.array([0.08, 0.06])))

    tail_root = np.array([-0.47, -0.06])
    tail_len = rng.uniform(0.85, 1.15)
    if traits["tail"] == "curled":  # a ring over the back
        r = 0.12 * tail_len
        up_back = -2.2 + rng.uniform(-0.3, 0.3)
        centre = tail_root + r * np.array([math.cos(up_back), math.sin(up_back)])
        start = up_back + math.pi  # the point of the ring at the tail root
        tail = thick_polyline(arc(centre[0], centre[1], r, start, start + 1.7 * math.pi), 0.06)
    else:
        if traits["tail"] == "plume":  # long, thick, raised
            angle, length, widths = -2.25 + rng.uniform(-0.3, 0.3), 0.42 * tail_len, np.array([0.13, 0.11, 0.03])
        else:  # "hanging": long, thin, down
            angle, length, widths = 2.1 + rng.uniform(-0.3, 0.3), 0.36 * tail_len, np.array([0.045, 0.035, 0.02])
        bend = rng.uniform(-0.25, 0.25)
        pts = [tail_root]
        for step in range(2):
            pts.append(pts[-1] + length / 2 * np.array([math.cos(angle + bend * step), math.sin(angle + bend * step)]))
        tail = thick_polyline(np.array(pts), widths)

    ears = []
    for base_angle in (-1.25, -1.95):  # front and back ear, on top of the head
        a = base_angle + rng.uniform(-0.15, 0.15)
        direction = np.array([math.cos(a), math.sin(a)])
        side = np.array([-direction[1], direction[0]])
        base = np.array([hx, hy]) + 0.8 * head_r * direction
        size = head_r * rng.uniform(1.2, 1.45)
        if traits["ears"] == "pointed":
            ears.append(np.stack([base + 0.45 * size * side, base + 1.2 * size * direction, base - 0.45 * size * side]))
        elif traits["ears"] == "round":
            ears.append(ellipse(*(base + 0.15 * size * direction), 0.42 * size, 0.42 * size, 0, 12))
        else:  # floppy: hangs down along the side of the head
            tip = base + np.array([-0.25, 1.05]) * size
            ears.append(thick_polyline(np.stack([base, (base + tip) / 2, tip]), np.array([0.5, 0.6, 0.4]) * size))

    long_muzzle = rng.random() < 0.5  # not a breed trait: within-breed variation
    mlen = rng.uniform(0.5, 0.95) * head_r
    mcx = hx + 0.55 * head_r + mlen * 0.75
    mcy = hy + 0.3 * head_r
    muzzle = ellipse(mcx, mcy, mlen, 0.36 * head_r, rng.uniform(-0.1, 0.25) if long_muzzle else 0.0)
    nose = ellipse(mcx + mlen * 0.95, mcy - 0.05 * head_r, 0.16 * head_r, 0.13 * head_r, 0, 10)
    eye = ellipse(hx + 0.35 * head_r, hy - 0.2 * head_r, 0.14 * head_r, 0.14 * head_r, 0, 10)
    head = ellipse(hx, hy, head_r, head_r * 0.92)

    marks = []
    if traits["coat"] == "spotted":
        for _ in range(rng.integers(5, 9)):
            r = rng.uniform(0.045, 0.075)
            marks.append(ellipse(rng.uniform(-0.42, 0.42), rng.uniform(-body_ry, body_ry), r, r, 0, 12))
    elif traits["coat"] == "striped":
        count = rng.integers(3, 6)
        for x in np.linspace(-0.33, 0.3, count) + rng.uniform(-0.03, 0.03, count):
            w, tilt = rng.uniform(0.045, 0.065), rng.uniform(-0.1, 0.1)
            marks.append(np.array([[x - w + tilt, -0.3], [x + w + tilt, -0.3], [x + w - tilt, 0.3], [x - w - tilt, 0.3]]))
    elif traits["coat"] == "saddled":
        marks.append(ellipse(rng.uniform(-0.12, 0.05), -body_ry * rng.uniform(0.45, 0.8), rng.uniform(0.26, 0.33),
                             body_ry * 0.75))
    return {"far": legs_far, "tail": [tail], "body": [body, neck], "near": legs_near, "ears_back": ears[1:],
            "head": [head, muzzle], "ears_front": ears[:1] if traits["ears"] != "floppy" else [],
            "ears_floppy": ears[:1] if traits["ears"] == "floppy" else [], "dark": [nose, eye], "marks": marks}


def place(parts: dict[str, list[np.ndarray]], rng: np.random.Generator, size: float, scale_range: tuple[float, float],
          ) -> dict[str, list[np.ndarray]]:
    """Random flip, rotation, scale and position (the figure stays mostly inside the image)."""
    angle = rng.uniform(-0.45, 0.45)
    scale = size * rng.uniform(*scale_range)
    c, s = math.cos(angle), math.sin(angle)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    matrix = np.array([[c, s], [-s, c]]) * scale * np.array([[flip], [1.0]])
    moved = {k: [p @ matrix for p in v] for k, v in parts.items()}
    every = np.concatenate([p for k, v in moved.items() if k != "marks" for p in v])
    lo, hi = every.min(0), every.max(0)
    margin = 0.08 * (hi - lo)
    low, high = -lo - margin, size - hi + margin
    shift = np.where(low < high, rng.uniform(np.minimum(low, high), np.maximum(low, high)), (low + high) / 2)
    return {k: [p + shift for p in v] for k, v in moved.items()}


# ------------------------------------------------------------------------------------------------------ drawing
def background(rng: np.random.Generator, size: int) -> Image.Image:
    """Smooth colour field blended with a mottled texture, then towards grey: large-scale variation without any class
    information, a little less loud than the dogs."""
    low = rng.integers(0, 256, (rng.integers(2, 5), rng.integers(2, 5), 3), dtype=np.uint8)
    field = Image.fromarray(low).resize((size, size), Image.BICUBIC)
    cells = int(rng.integers(8, 40))
    texture = Image.fromarray(rng.integers(0, 256, (cells, cells), dtype=np.uint8)).resize((size, size),
                                                                                           Image.BILINEAR)
    mottled = Image.blend(field, texture.convert("RGB"), rng.uniform(0.1, 0.5))
    return Image.blend(mottled, Image.new("RGB", (size, size), (128, 128, 128)), rng.uniform(0.3, 0.6))


def random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in hsv_to_rgb(rng.random(), rng.uniform(0, 0.9), rng.uniform(0.15, 1.0)))


def clutter_shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int) -> None:
    """A random blob, polygon, stick or arc: distractors with the same kinds of shapes as the dog's parts."""
    colour = random_colour(rng)
    cx, cy = rng.uniform(0, size, 2)
    r = size * rng.uniform(0.03, 0.18)
    kind = rng.integers(4)
    if kind == 0:
        draw.polygon(ellipse(cx, cy, r, r * rng.uniform(0.3, 1), rng.uniform(0, 3.2)).ravel().tolist(), fill=colour)
    elif kind == 1:
        draw.polygon((rng.uniform(-r, r, (rng.integers(3, 6), 2)) + (cx, cy)).ravel().tolist(), fill=colour)
    elif kind == 2:
        end = (cx, cy) + r * 2 * np.array([math.cos(a := rng.uniform(0, 6.3)), math.sin(a)])
        draw.line([cx, cy, *end], fill=colour, width=int(max(1, r * rng.uniform(0.1, 0.4))))
    else:
        start = rng.uniform(0, 6.3)
        pts = arc(cx, cy, r, start, start + rng.uniform(1.5, 5))
        draw.line(pts.ravel().tolist(), fill=colour, width=int(max(1, r * rng.uniform(0.1, 0.4))), joint="curve")


def draw_dog(canvas: Image.Image, parts: dict[str, list[np.ndarray]], rng: np.random.Generator) -> None:
    """Paint one placed dog: random body colour, a contrasting marking colour, darker outlines and far legs."""
    h, s, v = rng.random(), rng.uniform(0, 0.8), rng.uniform(0.25, 1.0)
    body = tuple(int(x) for x in hsv_to_rgb(h, s, v))
    shade = tuple(int(x) for x in hsv_to_rgb(h, s, v * 0.7))
    outline = tuple(int(x) for x in hsv_to_rgb(h, s, v * 0.45))
    mark_v = v - rng.uniform(0.4, 0.6) if v > 0.55 else v + rng.uniform(0.4, 0.6)
    mark = tuple(int(x) for x in hsv_to_rgb((h + rng.uniform(-0.1, 0.1)) % 1, rng.uniform(0, 0.8), mark_v))
    width = SUPERSAMPLE

    draw = ImageDraw.Draw(canvas)
    for poly in parts["far"] + parts["tail"]:
        draw.polygon(poly.ravel().tolist(), fill=shade, outline=outline, width=width)
    for poly in parts["ears_back"]:
        draw.polygon(poly.ravel().tolist(), fill=shade, outline=outline, width=width)
    for poly in parts["body"] + parts["near"]:
        draw.polygon(poly.ravel().tolist(), fill=body, outline=outline, width=width)
    if parts["marks"]:  # markings only where the torso is
        torso = Image.new("L", canvas.size, 0)
        ImageDraw.Draw(torso).polygon(parts["body"][0].ravel().tolist(), fill=255)
        marks = Image.new("L", canvas.size, 0)
        mark_draw = ImageDraw.Draw(marks)
        for poly in parts["marks"]:
            mark_draw.polygon(poly.ravel().tolist(), fill=255)
        canvas.paste(mark, mask=Image.fromarray(np.minimum(np.asarray(torso), np.asarray(marks))))
    for poly in parts["head"] + parts["ears_front"]:
        draw.polygon(poly.ravel().tolist(), fill=body, outline=outline, width=width)
    for poly in parts["ears_floppy"]:
        draw.polygon(poly.ravel().tolist(), fill=shade, outline=outline, width=width)
    for poly in parts["dark"]:
        draw.polygon(poly.ravel().tolist(), fill=(20, 15, 10))


def dog_box(parts: dict[str, list[np.ndarray]], size: int) -> tuple[int, int, int, int]:
    """VOC box (1-based, inclusive pixel indices) of every visible part, clipped to the image."""
    every = np.concatenate([p for k, v in parts.items() if k != "marks" for p in v]) / SUPERSAMPLE
    lo = np.clip(np.floor(every.min(0)), 0, size - 1).astype(int)
    hi = np.clip(np.ceil(every.max(0)), 1, size).astype(int)
    return int(lo[0]) + 1, int(lo[1]) + 1, int(hi[0]), int(hi[1])


def render(traits: dict[str, str], rng: np.random.Generator, params: dict) -> tuple[Image.Image, list[tuple]]:
    """One image of a dog of this breed and its VOC boxes (one per dog)."""
    size = params["image_size"]
    big = size * SUPERSAMPLE
    canvas = background(rng, big)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.poisson(params["clutter"])):
        clutter_shape(draw, rng, big)
    dogs = [place(figure_parts(traits, rng), rng, big, (0.45, 0.65))]
    if rng.random() < params["second_dog_prob"]:
        dogs.append(place(figure_parts(traits, rng), rng, big, (0.22, 0.35)))
    for parts in dogs:
        draw_dog(canvas, parts, rng)
    if rng.random() < params["occluder_prob"]:
        clutter_shape(ImageDraw.Draw(canvas), rng, big)
    image = canvas.resize((size, size), Image.BOX)
    return image, [dog_box(parts, size) for parts in dogs]


def voc_xml(folder: str, stem: str, size: int, name: str, boxes: list[tuple]) -> str:
    """The Annotation file of one image, in Stanford Dogs' VOC format."""
    objects = "".join(
        f"\t<object>\n\t\t<name>{escape(name)}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        f"\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n"
        f"\t\t\t<xmax>{x1}</xmax>\n\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for x0, y0, x1, y1 in boxes)
    return (f"<annotation>\n\t<folder>{escape(folder.split('-')[0][1:])}</folder>\n\t<filename>{escape(stem)}"
            f"</filename>\n\t<source>\n\t\t<database>MobileNet Suite synthetic dogs</database>\n\t</source>\n"
            f"\t<size>\n\t\t<width>{size}</width>\n\t\t<height>{size}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
            f"\t<segment>0</segment>\n{objects}</annotation>")


def save_list(path: Path, files: list[str], labels: list[int]) -> None:
    """A lists/*.mat file like the real ones: Nx1 cell arrays of relative paths and Nx1 1-based labels."""
    file_cells = np.empty((len(files), 1), dtype=object)
    annotation_cells = np.empty((len(files), 1), dtype=object)
    for i, f in enumerate(files):
        file_cells[i, 0] = f
        annotation_cells[i, 0] = f.removesuffix(".jpg")
    scipy.io.savemat(path, {"file_list": file_cells, "annotation_list": annotation_cells,
                            "labels": np.asarray(labels, dtype=np.float64).reshape(-1, 1)})


# -------------------------------------------------------------------------------------------------- generation
def resolve_params(generator: dict | None = None) -> dict:
    """Defaults overridden by `generator` (e.g. Hydra's data.generator); unknown keys are an error."""
    return merge_params(DEFAULT_PARAMS, generator)


def generate_dogs(out_dir: str | Path, params: dict | None = None) -> Path:
    """Write the whole dataset under `out_dir` (see module docstring). Same params -> identical files."""
    params = resolve_params(params)
    out_dir = Path(out_dir)
    breeds = choose_breeds(params)
    counts = {"train": params["train_per_class"], "test": params["test_per_class"]}
    lists: dict[str, tuple[list[str], list[int]]] = {split: ([], []) for split in counts}
    for label, traits in enumerate(breeds):
        folder = class_folder(label, traits)
        wnid = folder.split("-")[0]
        (out_dir / "Images" / folder).mkdir(parents=True)
        (out_dir / "Annotation" / folder).mkdir(parents=True)
        number = 0
        for split_id, (split, count) in enumerate(counts.items()):
            for index in range(count):
                number += 1
                rng = np.random.default_rng([params["seed"], split_id, label, index])
                image, boxes = render(traits, rng, params)
                stem = f"{wnid}_{number}"
                image.save(out_dir / "Images" / folder / f"{stem}.jpg", quality=params["jpeg_quality"])
                (out_dir / "Annotation" / folder / stem).write_text(
                    voc_xml(folder, stem, params["image_size"], breed_name(traits), boxes))
                lists[split][0].append(f"{folder}/{stem}.jpg")
                lists[split][1].append(label + 1)
    (out_dir / "lists").mkdir()
    for split, (files, labels) in lists.items():
        save_list(out_dir / "lists" / f"{split}_list.mat", files, labels)
    return out_dir


def ensure_dogs(generator: dict | None = None, cache_dir: str | Path | None = None) -> Path:
    """The embedded default dataset, generated once into the cache (regenerated if missing or incomplete); see
    data.cache.generated_folder for where."""
    params = resolve_params(generator)
    folder = generated_folder(DEFAULT_FOLDER_NAME, params, DEFAULT_PARAMS, cache_dir)
    return ensure_embedded("Stanford Dogs", folder, params, DEFAULT_PARAMS,
                           lambda tmp: generate_dogs(tmp, params), seconds=15)
