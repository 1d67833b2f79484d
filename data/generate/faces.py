"""Synthetic faces with attributes, written in the real CelebA layout so the real CelebA loader reads them.

Why synthetic: the suite works offline and `task=face_attributes` must train to a meaningful mean average precision
in minutes on a CPU. Each face carries 20 binary attributes (CelebA's names where CelebA has one) drawn from a small
generative model (sex, then age, then the rest given them), so prevalences and correlations resemble CelebA's: a
model can lean on the correlations (Beard -> Male) yet must see the details to do well. Large attributes (hat,
sunglasses, smile, hair colour) are easy; small ones (earrings, mustache, rosy cheeks, pale skin, age) are drawn a
few pixels large and stay hard. Everything else varies independently of the labels: yaw (features shift sideways,
the far side squashes), roll, scale, position, skin tone, hair style, clothes, background, lighting, colour cast,
sensor noise and JPEG, so memorising whole images does not help. The unlabelled pool (same distribution) is for
distillation from a teacher.

Layout written (that of CelebA's aligned images, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html):
    img_align_celeba/000001.jpg ...          numbered over train, then val, then test
    list_attr_celeba.txt                     count; attribute names (trailing space); "000001.jpg -1  1 ..." lines
    list_eval_partition.txt                  "000001.jpg 0" lines (0 train, 1 val, 2 test)
    unlabelled/part_00/000001.jpg ...        the unlabelled pool, `unlabelled_per_folder` images per folder
Images are width x height (default 80 x 96, CelebA's aligned aspect); the hat and the necktie stay inside the
central square, which the loader crops.
Generation is deterministic: every image has its own seed derived from (seed, split, index).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from data.cache import ensure_embedded, generated_folder, merge_params

DEFAULT_PARAMS: dict = {
    "version": 1,                    # bump when the drawing code changes, so caches are regenerated
    "seed": 0,
    "train": 6000,                   # labelled images per split
    "val": 1000,
    "test": 2000,
    "unlabelled": 12000,             # images of the unlabelled pool (same distribution, no labels)
    "unlabelled_per_folder": 1000,   # the pool is spread over part_XX folders (recursive folder reading)
    "width": 80,
    "height": 96,
    "jpeg_quality": 90,
}
DEFAULT_FOLDER_NAME = "celeba_generated"
SPLITS = ("train", "val", "test")  # partition ids 0, 1, 2, numbered in this order (as CelebA)

# File order: alphabetical, as CelebA's. Beard and Sunglasses are not CelebA attributes (it has No_Beard and no
# sunglasses); the rest use CelebA's spellings.
ATTRIBUTES: list[str] = [
    "Bald", "Bangs", "Beard", "Black_Hair", "Blond_Hair", "Blurry", "Eyeglasses", "Gray_Hair", "Male",
    "Mouth_Slightly_Open", "Mustache", "Pale_Skin", "Rosy_Cheeks", "Smiling", "Sunglasses", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necktie", "Young",
]
SUPERSAMPLE = 2  # draw at 2x and downsample: anti-aliased edges without per-shape anti-aliasing

# Skin tones from dark to light (the normal range); Pale_Skin lies beyond its light end.
SKIN_TONES = np.array([[92, 58, 40], [150, 100, 70], [196, 146, 110], [226, 184, 152], [236, 198, 170]], float)
PALE_SKIN = np.array([246, 221, 207], float)


# ------------------------------------------------------------------------------------------------- attributes
def sample_attributes(rng: np.random.Generator) -> dict[str, bool]:
    """One face's attributes: sex first, then age, then the rest given them (CelebA-like prevalences in comments)."""
    male = rng.random() < 0.42                                          # 0.42
    young = rng.random() < (0.70 if male else 0.79)                     # 0.75
    smiling = rng.random() < (0.51 if young else 0.40)                  # 0.48
    mouth_open = rng.random() < (0.70 if smiling else 0.27)             # 0.48, mostly with a smile
    eyewear = rng.random()
    glasses_p = 0.045 if young else 0.125
    eyeglasses = eyewear < glasses_p                                    # 0.065, more often older
    sunglasses = glasses_p <= eyewear < glasses_p + 0.03                # 0.03, never with eyeglasses
    bald = male and rng.random() < (0.035 if young else 0.12)           # 0.025, mostly older men
    beard = male and rng.random() < 0.36                                # 0.15
    gray = rng.random() < (0.007 if young else 0.14)                    # 0.04, mostly older
    colour = rng.random()
    blond_p = 0.04 if male else 0.23
    return {
        "Bald": bald,
        "Bangs": not bald and rng.random() < (0.105 if male else 0.19),  # 0.15
        "Beard": beard,
        "Black_Hair": not gray and blond_p <= colour < blond_p + 0.26,   # 0.24; hair colours are exclusive
        "Blond_Hair": not gray and colour < blond_p,                      # 0.15, mostly women; the rest brown
        "Blurry": rng.random() < 0.05,
        "Eyeglasses": eyeglasses,
        "Gray_Hair": gray,
        "Male": male,
        "Mouth_Slightly_Open": mouth_open,
        "Mustache": male and rng.random() < (0.25 if beard else 0.045),  # 0.05, often with a beard
        "Pale_Skin": rng.random() < (0.027 if male else 0.05),            # 0.04
        "Rosy_Cheeks": rng.random() < (0.03 if male else 0.10),           # 0.07
        "Smiling": smiling,
        "Sunglasses": sunglasses,
        "Wearing_Earrings": rng.random() < (0.02 if male else 0.31),      # 0.19
        "Wearing_Hat": not bald and rng.random() < 0.051,                 # 0.05, never bald (it would hide it)
        "Wearing_Lipstick": not male and rng.random() < (0.5 if young else 0.3),  # 0.45 of women
        "Wearing_Necktie": male and rng.random() < 0.17,                  # 0.07
        "Young": young,
    }


# ---------------------------------------------------------------------------------------------------- geometry
@functools.cache
def unit_circle(n: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], 1)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 16) -> np.ndarray:
    return unit_circle(n) * (rx, ry) + (cx, cy)


def curve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([x, y], 1)


def thick_polyline(points: np.ndarray, widths: np.ndarray | float) -> np.ndarray:
    """Polygon of a polyline with per-vertex width (tapered eyebrows, hair strands)."""
    d = np.gradient(points, axis=0)
    normal = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)
    offset = normal * (np.broadcast_to(widths, len(points))[:, None] / 2)
    return np.concatenate([points + offset, (points - offset)[::-1]])


def hsv_to_rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    """One HSV colour (all in [0, 1]) to RGB values."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return tuple(int(x) for x in np.round(255 * (v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1))))


def shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, c * factor)) for c in colour)


def mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


class Pose:
    """Face units (face half-width 1, origin between the cheekbones, y down) to supersampled canvas pixels.

    Yaw turns a point on a cylinder of radius 1.15 (`turn` 1 for the features, less for the outline and hair, whose
    silhouette barely moves; `depth` for what sticks out, the nose), then roll, scale and the shift apply to all."""

    def __init__(self, rng: np.random.Generator, width: int, height: int):
        side = min(width, height)
        yaw = rng.uniform(-0.35, 0.35)
        self.cos_yaw, self.sin_yaw = math.cos(yaw), math.sin(yaw)
        roll = float(np.clip(rng.normal(0, 0.1), -0.26, 0.26))
        scale = 0.2 * side * rng.uniform(0.88, 1.12)
        c, s = math.cos(roll), math.sin(roll)
        self.matrix = np.array([[c, s], [-s, c]]) * scale * SUPERSAMPLE
        # The hat's top and the necktie's tip must stay inside the central square: place the face so that they would,
        # whether or not this face has them (so the position says nothing about either).
        envelope = np.array([[-1.2, -1.85], [1.2, -1.85], [0, -1.9], [-1.5, -0.8], [1.5, -0.8], [0, 2.35],
                             [-0.25, 2.25], [0.25, 2.25]]) @ self.matrix[:, 1] / SUPERSAMPLE
        top, bottom = (height - side) / 2 + 0.5, (height + side) / 2 - 0.5
        low, high = top - envelope.min(), bottom - envelope.max()
        cy = height / 2 - 0.22 * scale + rng.normal(0, 0.02 * side)
        cy = float(np.clip(cy, low, high)) if low <= high else (low + high) / 2
        cx = width / 2 + rng.uniform(-0.04, 0.04) * side
        self.offset = np.array([cx, cy]) * SUPERSAMPLE
        self.unit = scale * SUPERSAMPLE  # canvas pixels per face unit

    def __call__(self, points: np.ndarray, turn: float = 1.0, depth: float = 0.0) -> list[float]:
        moved = points @ self.matrix + self.offset
        if turn:  # x -> sin(asin(x / r) + yaw) * r, expanded; moving x by d moves the pixel by d * matrix[0]
            x = points[:, 0]
            turned = x * self.cos_yaw + (np.sqrt(np.maximum(1.15 ** 2 - x * x, 0)) + depth) * self.sin_yaw
            moved += np.multiply.outer(turn * (turned - x), self.matrix[0])
        return moved.ravel().tolist()

    def width(self, units: float) -> int:
        """A line width in face units as whole canvas pixels (at least 1)."""
        return max(1, round(units * self.unit))


# ------------------------------------------------------------------------------------------------------ drawing
def background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A plain colour, a smooth gradient, or a colour with a few random shapes; muted, as most photo backdrops."""
    def colour():
        return hsv_to_rgb(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.15, 0.95))

    kind = rng.integers(3)
    if kind == 1:
        corners = np.array([[colour(), colour()], [colour(), colour()]], np.uint8)
        return Image.fromarray(corners).resize(size, Image.BILINEAR)
    canvas = Image.new("RGB", size, colour())
    if kind == 2:
        draw = ImageDraw.Draw(canvas)
        for _ in range(rng.integers(2, 6)):
            x0, y0 = rng.uniform(-0.2, 1, 2) * size
            x1, y1 = (x0, y0) + rng.uniform(0.1, 0.6, 2) * size
            (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=colour())
    return canvas


def hair_colour(attributes: dict[str, bool], rng: np.random.Generator) -> tuple[int, int, int]:
    if attributes["Gray_Hair"]:
        return hsv_to_rgb(0.1, rng.uniform(0, 0.08), rng.uniform(0.55, 0.88))
    if attributes["Blond_Hair"]:
        return hsv_to_rgb(rng.uniform(0.1, 0.14), rng.uniform(0.3, 0.6), rng.uniform(0.72, 0.93))
    if attributes["Black_Hair"]:
        return hsv_to_rgb(rng.uniform(0.55, 0.7), rng.uniform(0, 0.3), rng.uniform(0.07, 0.16))
    return hsv_to_rgb(rng.uniform(0.02, 0.09), rng.uniform(0.4, 0.75), rng.uniform(0.22, 0.55))  # brown, auburn


def skin_colour(attributes: dict[str, bool], rng: np.random.Generator) -> tuple[int, int, int]:
    """Pale_Skin lies just beyond the light end of the normal range; older skin is a little greyer."""
    if attributes["Pale_Skin"]:
        rgb = PALE_SKIN + rng.uniform(-4, 4, 3)
    else:
        t = rng.random() ** 0.5 * (len(SKIN_TONES) - 1)  # mostly light, as CelebA
        i = min(int(t), len(SKIN_TONES) - 2)
        rgb = SKIN_TONES[i] + (SKIN_TONES[i + 1] - SKIN_TONES[i]) * (t - i) + rng.uniform(-6, 6, 3)
    if not attributes["Young"]:
        rgb = rgb + (rgb.mean() - rgb) * rng.uniform(0.1, 0.25)
    return tuple(int(c) for c in np.clip(rgb, 0, 255))


def draw_clothes(draw: ImageDraw.ImageDraw, pose: Pose, attributes: dict[str, bool], skin, rng) -> None:
    """Neck, shoulders and a neckline (round, V, open collar); a necktie comes with a shirt collar, often a jacket."""
    neck = rng.uniform(0.4, 0.5) if attributes["Male"] else rng.uniform(0.33, 0.42)
    draw.polygon(pose(np.array([[-neck, 0.7], [neck, 0.7], [neck + 0.04, 2.0], [-neck - 0.04, 2.0]]), 0.2),
                 fill=shade(skin, 0.8))
    clothes = hsv_to_rgb(rng.random(), rng.uniform(0, 0.8), rng.uniform(0.1, 0.95))
    width = rng.uniform(2.6, 3.0) if attributes["Male"] else rng.uniform(2.3, 2.75)
    shoulders = np.array([[-width, 4.0], [-width, 2.3], [-width + 0.4, 1.85], [-0.5, 1.6], [0.5, 1.6],
                          [width - 0.4, 1.85], [width, 2.3], [width, 4.0]])
    draw.polygon(pose(shoulders, 0), fill=clothes)
    collar_style = "tie" if attributes["Wearing_Necktie"] else rng.choice(["round", "vee", "open"], p=[0.5, 0.3, 0.2])
    if collar_style in ("round", "vee"):
        depth = 1.85 if collar_style == "round" else rng.uniform(2.1, 2.4)
        neckline = np.array([[-0.5, 1.58], [-0.3, depth - 0.1], [0, depth], [0.3, depth - 0.1], [0.5, 1.58]])
        draw.polygon(pose(neckline, 0), fill=shade(skin, 0.85))
        return
    shirt = hsv_to_rgb(rng.random(), rng.uniform(0, 0.35), rng.uniform(0.75, 1.0))
    if collar_style == "tie" and rng.random() < 0.7:  # a jacket over the shirt: lapels frame the shirt
        draw.polygon(pose(shoulders, 0), fill=hsv_to_rgb(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.1, 0.45)))
    bottom, half = (2.6, 0.2) if collar_style == "tie" else (2.3, 0.05)
    draw.polygon(pose(np.array([[-0.55, 1.6], [0.55, 1.6], [half, bottom], [-half, bottom]]), 0), fill=shirt)
    if collar_style == "open":
        draw.polygon(pose(np.array([[-0.35, 1.6], [0.35, 1.6], [0, 2.1]]), 0), fill=shade(skin, 0.85))
    outline = shade(shirt, 0.7)
    for side in (-1, 1):
        wing = np.array([[side * 0.5, 1.55], [side * 0.05, 1.72], [side * 0.38, 1.95]])
        draw.polygon(pose(wing, 0), fill=shirt, outline=outline, width=1)
    if collar_style == "tie":
        tie = hsv_to_rgb(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.8))
        knot = np.array([[-0.1, 1.68], [0.1, 1.68], [0.07, 1.84], [-0.07, 1.84]])
        blade = np.array([[-0.07, 1.84], [0.07, 1.84], [0.2, 2.22], [0, 2.33], [-0.2, 2.22]])
        draw.polygon(pose(blade, 0), fill=tie, outline=shade(tie, 0.6), width=1)
        draw.polygon(pose(knot, 0), fill=shade(tie, 0.85))
        if rng.random() < 0.4:  # stripes
            for y in (1.95, 2.07, 2.19):
                draw.line(pose(np.array([[-0.12, y], [0.12, y - 0.06]]), 0), fill=shade(tie, 1.6), width=1)


def hair_shapes(attributes: dict[str, bool], rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray | None]:
    """(back hair: behind the face, front hair: over the forehead or None when bald).

    Length (short, medium, long) depends on sex; the hairline has a parting; bangs cover the forehead."""
    male = attributes["Male"]
    length = rng.choice([0.0, 1.1, 2.2], p=[0.65, 0.28, 0.07] if male else [0.1, 0.3, 0.6])
    length += rng.uniform(-0.15, 0.15)
    volume = rng.uniform(0.0, 0.12) + (0.0 if length < 0.5 else 0.08)
    cap = ellipse(0, -0.4, 1.08 + volume, 1.12 + volume, 32)
    back = [] if attributes["Bald"] else [cap]
    if length > 0.5:
        for side in (-1, 1):
            strand = np.array([[0.55, -0.9], [1.1 + volume, -0.5], [1.25 + volume, 0.3],
                               [1.2 + volume + rng.uniform(0, 0.2), length], [0.8, length - 0.15], [0.9, 0.3]])
            back.append(strand * (side, 1))
    if attributes["Bald"]:  # a fringe over the ears only
        back += [ellipse(side * 1.0, -0.2, 0.16, 0.38, 12) for side in (-1, 1)]
        return back, None
    x = np.linspace(1.0, -1.0, 13)
    part = rng.uniform(-0.5, 0.5)
    if attributes["Bangs"]:  # a fringe down to the brows, straight or ragged
        hairline = rng.uniform(-0.48, -0.4) + 0.18 * np.abs(x) ** 4 + rng.uniform(0, 0.07) * (np.arange(13) % 2)
    else:
        line = rng.uniform(-0.95, -0.75) - (0.12 * rng.random() if male and not attributes["Young"] else 0)
        hairline = line + (-0.15 - line) * np.abs(x) ** 3 - 0.18 * np.exp(-((x - part) / 0.15) ** 2)
    t = np.linspace(math.pi - 0.25, 2 * math.pi + 0.25, 15)
    top = np.stack([1.08 * np.cos(t), -0.4 + 1.12 * np.sin(t)], 1) * (1 + volume * 0.5)
    return back, np.concatenate([top, curve(x, hairline)])


def face_outline(male: bool, rng: np.random.Generator) -> np.ndarray:
    """Forehead half-ellipse above, a jaw below: men's squarer and wider (superellipse exponent), with overlap."""
    t = np.linspace(0, 2 * math.pi, 36, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    lower = s > 0
    exponent = rng.uniform(0.45, 0.8) if male else rng.uniform(0.7, 1.0)
    jaw = rng.uniform(0.95, 1.05) if male else rng.uniform(0.88, 0.98)
    chin = rng.uniform(1.28, 1.42) if male else rng.uniform(1.2, 1.34)
    x = np.where(lower, np.sign(c) * np.abs(c) ** exponent * jaw, c)
    y = np.where(lower, np.abs(s) ** (exponent * 0.8) * chin, 1.25 * s)
    return curve(x, y)


def alpha_patch(canvas: Image.Image, polygons: list[list[float]], colour, alpha: int) -> None:
    """Blend `colour` over `canvas` inside the polygons (blush, stubble)."""
    mask = Image.new("L", canvas.size, 0)
    mask_draw = ImageDraw.Draw(mask)
    for polygon in polygons:
        mask_draw.polygon(polygon, fill=alpha)
    canvas.paste(colour, mask=mask)


def draw_lip_shapes(draw: ImageDraw.ImageDraw, pose: "Pose", x, u, mid, upper_edge, lower_edge, full: float,
                    gap: float, smiling: bool, lips) -> None:
    """Both lips, the open mouth (with teeth when smiling) and the lip line, from the mouth's curves (9 points
    across, x and u) in face coordinates."""
    upper = curve(x, upper_edge - full * (1 - u ** 2) * (1 - 0.4 * np.exp(-(u / 0.2) ** 2)))
    lower = curve(x, lower_edge + full * 1.3 * (1 - u ** 2))
    draw.polygon(pose(np.concatenate([upper, curve(x, upper_edge)[::-1]])), fill=lips)
    draw.polygon(pose(np.concatenate([curve(x, lower_edge), lower[::-1]])), fill=lips)
    if gap:
        draw.polygon(pose(np.concatenate([curve(x, upper_edge), curve(x, lower_edge)[::-1]])), fill=(55, 20, 25))
        if smiling:
            inner = slice(1, 8)
            teeth = curve(x[inner], (upper_edge + gap * 0.45 * (1 - u ** 2))[inner])
            draw.polygon(pose(np.concatenate([curve(x[inner], upper_edge[inner]), teeth[::-1]])), fill=(235, 230, 220))
    draw.line(pose(curve(x, mid)), fill=shade(lips, 0.55), width=1)


def draw_mouth(draw: ImageDraw.ImageDraw, pose: Pose, attributes: dict[str, bool], skin, hair, rng) -> None:
    """Lips around a mid line; a smile curves it up and widens it, an open mouth shows a dark gap (teeth in a
    smile); lipstick is a saturated lip colour instead of the skin-toned one."""
    smiling, opened = attributes["Smiling"], attributes["Mouth_Slightly_Open"]
    y0 = rng.uniform(0.55, 0.62)
    half = rng.uniform(0.3, 0.36) if smiling else rng.uniform(0.24, 0.3)
    bend = rng.uniform(0.08, 0.13) if smiling else rng.uniform(-0.03, 0.03) - (0 if attributes["Young"] else 0.03)
    gap = (rng.uniform(0.1, 0.16) if smiling else rng.uniform(0.05, 0.1)) if opened else 0.0
    u = np.linspace(-1, 1, 9)
    x = u * half
    mid = y0 - bend * u ** 2
    upper_edge = mid - gap * 0.3 * (1 - u ** 2)
    lower_edge = mid + gap * (0.7 if smiling else 0.5) * (1 - u ** 2)
    full = rng.uniform(0.06, 0.1) + (0 if attributes["Male"] else 0.02)
    if attributes["Wearing_Lipstick"]:
        lips = hsv_to_rgb(rng.uniform(-0.05, 0.02) % 1, rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.8))
    else:
        lips = mix(skin, (150, 70, 70), rng.uniform(0.25, 0.45))
    draw_lip_shapes(draw, pose, x, u, mid, upper_edge, lower_edge, full, gap, smiling, lips)
    if attributes["Mustache"]:
        band = rng.uniform(0.08, 0.13)
        top = curve(x * 1.05, upper_edge - full - 0.03 + 0.02 * u ** 2)
        draw.polygon(pose(np.concatenate([top + (0, -band), top[::-1]])), fill=shade(hair, 0.85))


def draw_eyes(draw: ImageDraw.ImageDraw, pose: Pose, attributes: dict[str, bool], hair, skin, rng) -> None:
    """Eye whites with iris and lid line, eyebrows (thicker on men), nose shading."""
    spacing = rng.uniform(0.37, 0.44)
    ey = rng.uniform(-0.14, -0.06)
    height = rng.uniform(0.07, 0.1) * (0.8 if attributes["Smiling"] else 1) * (1 if attributes["Young"] else 0.85)
    iris = hsv_to_rgb(rng.uniform(0.05, 0.6), rng.uniform(0.3, 0.8), rng.uniform(0.15, 0.5))
    lid = (40, 25, 20) if attributes["Male"] else (20, 12, 12)
    brow = mix(hair, (30, 20, 15), 0.35)
    brow_width = rng.uniform(0.09, 0.15) if attributes["Male"] else rng.uniform(0.05, 0.1)
    brow_y = ey - rng.uniform(0.2, 0.27)
    for side in (-1, 1):
        cx = side * spacing
        draw.polygon(pose(ellipse(cx, ey, 0.17, height, 12)), fill=(235, 232, 225),
                     outline=lid, width=pose.width(0.03 if attributes["Male"] else 0.045))
        draw.polygon(pose(ellipse(cx + rng.uniform(-0.03, 0.03), ey, 0.07, min(0.07, height), 10)), fill=iris)
        brow_x = cx + side * np.array([-0.18, 0.0, 0.2])
        draw.polygon(pose(thick_polyline(curve(brow_x, brow_y + np.array([0.04, -0.03, 0.02])),
                                         np.array([1.0, 1.0, 0.5]) * brow_width)), fill=brow)
    nose_shadow = shade(skin, 0.72)
    draw.line(pose(np.array([[0.07, -0.02], [0.1, 0.25]]), depth=0.1), fill=shade(skin, 0.85), width=1)
    draw.polygon(pose(ellipse(0, 0.3, 0.14, 0.045, 10), depth=0.12), fill=nose_shadow)
    for side in (-1, 1):
        draw.polygon(pose(ellipse(side * 0.07, 0.3, 0.04, 0.025, 8), depth=0.12), fill=shade(skin, 0.5))


def draw_age(draw: ImageDraw.ImageDraw, pose: Pose, attributes: dict[str, bool], skin, rng) -> None:
    """Older faces: faint forehead lines, nose-to-mouth folds and eye bags; some younger faces get a trace."""
    if attributes["Young"]:
        if rng.random() > 0.15:
            return
        strength = rng.uniform(0.1, 0.35)
    else:
        strength = rng.uniform(0.4, 1.0)
    line = shade(skin, 1 - 0.35 * strength)
    for y in (-0.55, -0.7, -0.85)[:rng.integers(1, 4)]:
        x = np.linspace(-0.45, 0.45, 5)
        draw.line(pose(curve(x, y + 0.04 * (x / 0.45) ** 2)), fill=line, width=1)
    for side in (-1, 1):
        draw.line(pose(np.array([[side * 0.2, 0.3], [side * 0.3, 0.45], [side * 0.36, 0.62]])), fill=line, width=1)
        draw.line(pose(np.array([[side * 0.28, 0.05], [side * 0.4, 0.09], [side * 0.52, 0.05]])), fill=line, width=1)


def draw_glasses(draw: ImageDraw.ImageDraw, pose: Pose, sun: bool, rng) -> None:
    """Thin frames with clear lenses (Eyeglasses) or larger, dark, opaque lenses (Sunglasses)."""
    frame = hsv_to_rgb(rng.random(), rng.uniform(0, 0.7), rng.uniform(0.05, 0.6))
    rx, ry = (rng.uniform(0.3, 0.36), rng.uniform(0.2, 0.26)) if sun else (rng.uniform(0.22, 0.28),
                                                                             rng.uniform(0.15, 0.2))
    spacing = rng.uniform(0.38, 0.43)
    y = rng.uniform(-0.12, -0.06)
    width = pose.width(rng.uniform(0.04, 0.07))
    lens = hsv_to_rgb(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.03, 0.2)) if sun else None
    for side in (-1, 1):
        draw.polygon(pose(ellipse(side * spacing, y, rx, ry, 16)), fill=lens, outline=frame, width=width)
        draw.line(pose(np.array([[side * (spacing + rx), y - 0.03], [side * 1.0, y - 0.06]])), fill=frame, width=width)
    draw.line(pose(np.array([[-spacing + rx, y - 0.04], [spacing - rx, y - 0.04]])), fill=frame, width=width)


def draw_hat(draw: ImageDraw.ImageDraw, pose: Pose, rng) -> None:
    """A beanie or a brimmed hat over the top of the head (within the envelope Pose keeps inside the square)."""
    colour = hsv_to_rgb(rng.random(), rng.uniform(0, 0.9), rng.uniform(0.15, 0.9))
    if rng.random() < 0.5:
        t = np.linspace(math.pi, 2 * math.pi, 13)
        crown = np.stack([1.15 * np.cos(t), -0.75 + 1.1 * np.sin(t)], 1)
        draw.polygon(pose(crown, 0.2), fill=colour)
        draw.polygon(pose(np.array([[-1.18, -0.95], [1.18, -0.95], [1.2, -0.68], [-1.2, -0.68]]), 0.2),
                     fill=shade(colour, 0.8))
    else:
        crown = np.array([[-0.95, -0.8], [-0.9, -1.7], [-0.5, -1.85], [0.5, -1.85], [0.9, -1.7], [0.95, -0.8]])
        draw.polygon(pose(crown, 0.2), fill=colour)
        draw.polygon(pose(np.array([[-0.95, -1.05], [0.95, -1.05], [0.95, -0.88], [-0.95, -0.88]]), 0.2),
                     fill=shade(colour, 0.6))
        draw.polygon(pose(ellipse(0, -0.82, 1.5, 0.14, 20), 0.2), fill=shade(colour, 0.85))


def draw_earrings(draw: ImageDraw.ImageDraw, pose: Pose, rng) -> None:
    """Small studs, hoops or drops under the ear lobes: a pixel or two at 80 x 96."""
    colour = [(215, 175, 70), (205, 205, 215), hsv_to_rgb(rng.random(), 0.8, 0.9)][rng.integers(3)]
    kind = rng.integers(3)
    for side in (-1, 1):
        x, y = side * 1.0, 0.3
        if kind == 0:
            draw.polygon(pose(ellipse(x, y, 0.065, 0.065, 8), 0.35), fill=colour)
        elif kind == 1:
            draw.polygon(pose(ellipse(x, y + 0.1, 0.1, 0.12, 12), 0.35), outline=colour, width=pose.width(0.04))
        else:
            draw.polygon(pose(ellipse(x, y + 0.1, 0.05, 0.11, 8), 0.35), fill=colour)


def render(attributes: dict[str, bool], rng: np.random.Generator, params: dict) -> Image.Image:
    """One face with these attributes; everything else is drawn at random."""
    width, height = params["width"], params["height"]
    size = (width * SUPERSAMPLE, height * SUPERSAMPLE)
    pose = Pose(rng, width, height)
    skin = skin_colour(attributes, rng)
    hair = hair_colour(attributes, rng)
    canvas = background(rng, size)
    draw = ImageDraw.Draw(canvas)

    draw_clothes(draw, pose, attributes, skin, rng)
    for side in (-1, 1):  # ears, behind the hair
        draw.polygon(pose(ellipse(side * 1.0, 0.02, 0.16, 0.27, 10), 0.35), fill=shade(skin, 0.9))
    back, front = hair_shapes(attributes, rng)
    for polygon in back:
        draw.polygon(pose(polygon, 0.2), fill=hair)
    outline = face_outline(attributes["Male"], rng)
    if attributes["Bald"]:  # the scalp, with a highlight
        draw.polygon(pose(ellipse(0, -0.35, 1.0, 1.22, 24), 0.35), fill=skin)
        draw.polygon(pose(ellipse(-0.2, -1.15, 0.3, 0.15, 10), 0.35), fill=shade(skin, 1.1))
    draw.polygon(pose(outline, 0.35), fill=skin, outline=shade(skin, 0.8), width=1)
    if attributes["Beard"]:
        lower = outline[:len(outline) // 2 + 1]  # the jaw, right to left
        inner = np.array([[-0.9, 0.12], [-0.62, 0.42], [-0.4, 0.62], [-0.2, 0.8], [0.2, 0.8], [0.4, 0.62],
                          [0.62, 0.42], [0.9, 0.12]])  # sideburns, cheeks, round the mouth, under the lower lip
        bushy = rng.random() < 0.7
        beard = np.concatenate([lower * (rng.uniform(1.0, 1.08) if bushy else 1.0), inner])
        if bushy:
            draw.polygon(pose(beard, 0.35), fill=shade(hair, 0.9))
        else:  # stubble: a translucent shadow
            alpha_patch(canvas, [pose(beard, 0.35)], shade(hair, 0.6), int(rng.integers(110, 170)))
    if attributes["Rosy_Cheeks"]:
        alpha_patch(canvas, [pose(ellipse(side * 0.52, 0.22, 0.2, 0.13, 12)) for side in (-1, 1)], (225, 90, 100),
                    int(rng.integers(60, 100)))
    draw_age(draw, pose, attributes, skin, rng)
    draw_eyes(draw, pose, attributes, hair, skin, rng)
    draw_mouth(draw, pose, attributes, skin, hair, rng)
    if front is not None:
        draw.polygon(pose(front, 0.2), fill=hair)
    if attributes["Wearing_Earrings"]:
        draw_earrings(draw, pose, rng)
    if attributes["Eyeglasses"] or attributes["Sunglasses"]:
        draw_glasses(draw, pose, attributes["Sunglasses"], rng)
    if attributes["Wearing_Hat"]:
        draw_hat(draw, pose, rng)

    if attributes["Blurry"]:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(1.6, 3.0) * SUPERSAMPLE / 2))
    return finish(canvas.resize((width, height), Image.BOX), rng)


def finish(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Photographic variation: a brightness gradient, global brightness and contrast, colour cast, sensor noise."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.linspace(-1, 1, w)[None, :] * math.cos(angle) + np.linspace(-1, 1, h)[:, None] * math.sin(angle))
    pixels = pixels * (1 + rng.uniform(0, 0.3) * ramp[:, :, None]).astype(np.float32)
    pixels = (pixels - 128) * rng.uniform(0.75, 1.15) + 128 + rng.uniform(-25, 25)
    pixels = pixels * rng.normal(1, 0.04, 3).astype(np.float32)
    noise = rng.integers(0, 256, pixels.shape, dtype=np.uint8).astype(np.float32) - 127.5  # uniform, std 73.9
    pixels += noise * np.float32(rng.uniform(0, 5) / 73.9)  # 8x cheaper than Gaussian noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


# -------------------------------------------------------------------------------------------------- generation
def resolve_params(generator: dict | None = None) -> dict:
    """Defaults overridden by `generator` (e.g. Hydra's data.generator); unknown keys and bad counts are an error."""
    params = merge_params(DEFAULT_PARAMS, generator)
    minimums = {"train": 1, "val": 1, "test": 1, "unlabelled": 0, "unlabelled_per_folder": 1, "width": 16,
                "height": 16, "jpeg_quality": 1}
    for key, minimum in minimums.items():
        if not isinstance(params[key], int) or params[key] < minimum:
            raise ValueError(f"data.generator.{key} must be an integer >= {minimum}, got {params[key]!r}")
    if params["jpeg_quality"] > 100:
        raise ValueError(f"data.generator.jpeg_quality must be in [1, 100], got {params['jpeg_quality']}")
    return params


def generate_faces(out_dir: str | Path, params: dict | None = None) -> Path:
    """Write the whole dataset under `out_dir` (see module docstring). Same params -> identical files."""
    params = resolve_params(params)
    out_dir = Path(out_dir)
    (out_dir / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    attr_lines, partition_lines = [], []
    number = 0
    for split_id, split in enumerate(SPLITS):
        for index in range(params[split]):
            number += 1
            rng = np.random.default_rng([params["seed"], split_id, index])
            attributes = sample_attributes(rng)
            name = f"{number:06d}.jpg"
            render(attributes, rng, params).save(out_dir / "img_align_celeba" / name, quality=params["jpeg_quality"])
            attr_lines.append(name + "".join(f" {1 if attributes[a] else -1:2d}" for a in ATTRIBUTES))
            partition_lines.append(f"{name} {split_id}")
    (out_dir / "list_attr_celeba.txt").write_text(
        "\n".join([str(number), " ".join(ATTRIBUTES) + " ", *attr_lines]) + "\n")
    (out_dir / "list_eval_partition.txt").write_text("\n".join(partition_lines) + "\n")
    for index in range(params["unlabelled"]):
        rng = np.random.default_rng([params["seed"], len(SPLITS), index])
        folder = out_dir / "unlabelled" / f"part_{index // params['unlabelled_per_folder']:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        render(sample_attributes(rng), rng, params).save(folder / f"{index + 1:06d}.jpg",
                                                          quality=params["jpeg_quality"])
    return out_dir


def ensure_faces(generator: dict | None = None, cache_dir: str | Path | None = None) -> Path:
    """The embedded default dataset, generated once into the cache (regenerated if missing or incomplete); see
    data.cache.generated_folder for where."""
    params = resolve_params(generator)
    folder = generated_folder(DEFAULT_FOLDER_NAME, params, DEFAULT_PARAMS, cache_dir)
    return ensure_embedded("CelebA-layout faces", folder, params, DEFAULT_PARAMS,
                           lambda tmp: generate_faces(tmp, params), seconds=40)
