"""Synthetic people, many photos each, written in the real face-recognition layouts (VGGFace2 / CASIA-WebFace
identity folders for training, LFW folders and View-2 pairs.txt for verification) so the real loaders read them.

Why synthetic: the suite works offline and `task=face_embedding` must train to a meaningful verification accuracy in
minutes on a CPU. Each identity is a fixed set of facial traits drawn once (face shape, sex-like jaw and chin, face
width, skin tone, hair colour and style, eye spacing, height, size and tilt, iris colour, eyebrow shape, thickness
and colour, nose length and width, mouth position, width, fullness and lip colour, ear size, and distinctive marks
some people have: a mole, freckles, a beard or a mustache, rosy cheeks, a chin cleft, age lines, their own glasses
or earrings worn most of the time, lipstick worn often or seldom). Most traits are continuous and each is shared with
many other people, so telling two similar people apart means combining several small cues. Everything else is
drawn per photo, independently of the identity: pose (yaw, roll, scale, position), expression (neutral, smile,
mouth open), gaze, hair length, volume and hairline (a little), background, clothes, accessories (eyeglasses,
sunglasses ~5%, a hat ~10%, which hides the hair), an occluder over part of the face (~10%), blur (~15%), lighting
direction and strength, brightness, contrast, colour cast, saturation
(black and white ~8%), sensor noise and JPEG, so matching whole images does not verify a person. Drawing uses
data.generate.faces' primitives (Pose, face_outline, hair_shapes, skin_colour, hair_colour, background, clothes,
glasses, hat, earrings, age lines, finish).

Layout written:
    train/id_00000/0001.jpg ...              training identities (VGGFace2 / CASIA-WebFace: one folder a person)
    lfw/Person_0000/Person_0000_0001.jpg ... held-out identities in the LFW layout (images numbered from 0001);
                                             no training identity appears here
    pairs.txt                                LFW View 2: "<folds>\t<P>", then per fold P matched lines
                                             "Name\tn1\tn2" (n1 < n2) and P mismatched lines "Name1\tn1\tName2\tn2"
                                             (Name1 < Name2), as http://vis-www.cs.umass.edu/lfw/pairs.txt
The held-out people are split into `folds` disjoint sets (as LFW's); a fold's pairs use only its own people, no pair
is repeated, and every held-out person has at least two images. Images are width x height (default 80 x 96).
Generation is deterministic: every identity's traits and image count come from their own seed (seed, split,
identity), every image from (seed, split, identity, index), the pairs from (seed); the same parameters give
byte-identical files.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from data.cache import ensure_embedded, generated_folder, merge_params
from data.generate.faces import (SUPERSAMPLE, Pose, alpha_patch, background, curve, draw_age, draw_clothes,
                                 draw_earrings, draw_glasses, draw_hat, draw_lip_shapes, ellipse, face_outline,
                                 finish, hair_colour, hair_shapes, hsv_to_rgb, mix, shade, skin_colour,
                                 thick_polyline)

DEFAULT_PARAMS: dict = {
    "version": 1,                           # bump when the drawing code changes, so caches are regenerated
    "seed": 0,
    "train_identities": 500,                # people in train/
    "train_images_per_identity": [10, 20],  # each person's image count: a uniform integer in [low, high]
    "test_identities": 200,                 # held-out people in lfw/
    "test_images_per_identity": [2, 10],    # low >= 2, so every held-out person has a matched pair
    "folds": 10,                            # pairs.txt folds (disjoint sets of held-out people)
    "pairs_per_fold": 100,                  # matched pairs per fold, and as many mismatched
    "width": 80,
    "height": 96,
    "jpeg_quality": 90,
}
DEFAULT_FOLDER_NAME = "identities_generated"
SPLITS = ("train", "lfw")  # split ids 0, 1 in the seeds
_IDENTITY, _IMAGE, _PAIRS = 0, 1, 2  # seed tags, never last in a seed (numpy pads seeds: [a, b] == [a, b, 0])

# Iris families: (hue range, saturation range, value range); at 80 x 96 an iris is a pixel or two, a faint cue.
IRIS_COLOURS = [((0.04, 0.09), (0.5, 0.8), (0.12, 0.3)),    # dark brown
                ((0.07, 0.12), (0.5, 0.8), (0.3, 0.5)),     # hazel, light brown
                ((0.55, 0.62), (0.35, 0.7), (0.45, 0.75)),  # blue
                ((0.25, 0.4), (0.3, 0.6), (0.35, 0.6)),     # green
                ((0.55, 0.6), (0.05, 0.2), (0.45, 0.65))]   # grey
IRIS_P = [0.45, 0.2, 0.17, 0.1, 0.08]
MOLE_REGIONS = [((0.0, 0.5), (-0.8, -0.55)), ((0.45, 0.75), (0.05, 0.5)), ((0.3, 0.45), (0.4, 0.55)),
                ((0.0, 0.35), (0.9, 1.05))]  # (|x| range, y range)


def train_name(identity: int) -> str:
    return f"id_{identity:05d}"


def test_name(identity: int) -> str:
    return f"Person_{identity:04d}"


# ---------------------------------------------------------------------------------------------------- identities
def sample_identity(rng: np.random.Generator) -> dict:
    """One person's fixed traits (face units: face half-width 1, y down, as data.generate.faces.Pose)."""
    male = rng.random() < 0.5
    young = rng.random() < 0.72
    bald = male and rng.random() < (0.05 if young else 0.22)
    gray = not young and rng.random() < 0.4
    colour = rng.random()  # black 0.32, brown 0.36, blond 0.22, red 0.1 (before grey)
    hair_kind = "gray" if gray else "black" if colour < 0.32 else "brown" if colour < 0.68 else \
        "blond" if colour < 0.9 else "red"
    attributes = {"Male": male, "Young": young, "Bald": bald, "Bangs": not bald and rng.random() < 0.22,
                  "Pale_Skin": rng.random() < 0.05, "Gray_Hair": gray, "Blond_Hair": hair_kind == "blond",
                  "Black_Hair": hair_kind == "black"}
    skin = skin_colour(attributes, rng)
    if hair_kind == "red":
        hair = hsv_to_rgb(rng.uniform(0.02, 0.06), rng.uniform(0.6, 0.85), rng.uniform(0.45, 0.72))
    else:
        hair = hair_colour(attributes, rng)
    back, front = hair_shapes(attributes, rng)
    width = rng.uniform(0.9, 1.07)  # face width (the outline, ears and beard scale with it)
    outline = face_outline(male, rng) * (width, 1.0)

    iris_h, iris_s, iris_v = IRIS_COLOURS[rng.choice(len(IRIS_COLOURS), p=IRIS_P)]
    eye_y = rng.uniform(-0.16, -0.04)
    nose_y = rng.uniform(0.2, 0.36)       # nostrils: the nose's length
    traits = {
        "male": male, "young": young, "bald": bald, "skin": skin, "hair": hair, "hair_back": back,
        "hair_front": front, "width": width, "outline": outline,
        "eye_spacing": rng.uniform(0.34, 0.46), "eye_y": eye_y,
        "eye_rx": rng.uniform(0.13, 0.2), "eye_ry": rng.uniform(0.06, 0.105), "eye_tilt": rng.uniform(-0.05, 0.05),
        "iris": hsv_to_rgb(rng.uniform(*iris_h), rng.uniform(*iris_s), rng.uniform(*iris_v)),
        "iris_r": rng.uniform(0.06, 0.085),
        "lid": rng.uniform(0.025, 0.04) if male else rng.uniform(0.035, 0.06),  # lid line (eyeliner-like)
        "brow_colour": mix(hair, (30, 20, 15), rng.uniform(0.15, 0.6)),
        "brow_width": rng.uniform(0.08, 0.17) if male else rng.uniform(0.04, 0.11),
        "brow_gap": rng.uniform(0.17, 0.29), "brow_arch": rng.uniform(-0.02, 0.08),
        "brow_tilt": rng.uniform(-0.06, 0.06), "brow_length": rng.uniform(0.3, 0.46),
        "nose_y": nose_y, "nose_width": rng.uniform(0.09, 0.19), "nose_shadow": rng.uniform(0.62, 0.82),
        "mouth_y": rng.uniform(max(0.5, nose_y + 0.2), 0.7),
        "mouth_half": rng.uniform(0.21, 0.33), "mouth_bend": rng.uniform(-0.035, 0.03),
        "lip_full": rng.uniform(0.05, 0.1) + (0 if male else 0.02),
        "lips": mix(skin, (150, 70, 70), rng.uniform(0.2, 0.5)),  # natural lip colour
        "lipstick": 0.0 if male else float(rng.choice([0.1, 0.7], p=[0.6, 0.4])),  # how often she wears lipstick
        "ear_rx": rng.uniform(0.12, 0.2), "ear_ry": rng.uniform(0.2, 0.33), "ear_y": rng.uniform(-0.06, 0.1),
        "age_seed": int(rng.integers(2 ** 31)),  # age lines: the same lines in every photo
    }
    # Distinctive marks: each some people's, each a small cue.
    if rng.random() < 0.3:  # on the forehead, a cheek, beside the mouth or on the chin (clear of the features)
        (x0, x1), (y0, y1) = MOLE_REGIONS[rng.integers(len(MOLE_REGIONS))]
        traits["mole"] = (float(rng.uniform(x0, x1) * rng.choice([-1, 1])), float(rng.uniform(y0, y1)),
                          float(rng.uniform(0.045, 0.08)))
    else:
        traits["mole"] = None
    freckled = rng.random() < (0.25 if hair_kind == "red" else 0.08)
    traits["freckles"] = (rng.uniform([-0.65, 0.0], [0.65, 0.35], (int(rng.integers(10, 25)), 2))
                          if freckled else None)
    beard = male and rng.random() < 0.3
    traits["beard"] = (("bushy" if rng.random() < 0.6 else "stubble", rng.uniform(1.0, 1.08),
                        int(rng.integers(110, 180))) if beard else None)
    traits["mustache"] = rng.uniform(0.08, 0.14) if male and rng.random() < (0.45 if beard else 0.1) else None
    traits["rosy"] = int(rng.integers(50, 100)) if rng.random() < (0.04 if male else 0.12) else None
    traits["cleft"] = rng.random() < 0.12
    traits["glasses_seed"] = int(rng.integers(2 ** 31)) if rng.random() < 0.12 else None  # own glasses, often worn
    traits["earrings_seed"] = int(rng.integers(2 ** 31)) if not male and rng.random() < 0.35 else None
    return traits


# ------------------------------------------------------------------------------------------------------ drawing
def draw_features(draw: ImageDraw.ImageDraw, pose: Pose, traits: dict, smiling: bool, rng) -> None:
    """Eyes (this photo's gaze, narrower in a smile), eyebrows and nose, from the identity's traits."""
    skin = traits["skin"]
    height = traits["eye_ry"] * (0.8 if smiling else 1.0) * rng.uniform(0.9, 1.1)
    gaze = rng.uniform(-0.04, 0.04, 2)
    brow_lift = rng.uniform(-0.03, 0.04)
    for side in (-1, 1):
        cx = side * traits["eye_spacing"]
        cy = traits["eye_y"]
        eye = ellipse(cx, cy, traits["eye_rx"], height, 12)
        eye[:, 1] += side * traits["eye_tilt"] * (eye[:, 0] - cx) / traits["eye_rx"] * 0.5  # outer corners up/down
        draw.polygon(pose(eye), fill=(235, 232, 225), outline=(30, 18, 15), width=pose.width(traits["lid"]))
        radius = traits["iris_r"]
        draw.polygon(pose(ellipse(cx + gaze[0], cy + gaze[1] * 0.3, radius, min(radius, height), 10)),
                     fill=traits["iris"])
        u = np.array([-0.45, 0.0, 0.55])  # inner end, middle, outer end
        brow_x = cx + side * u * traits["brow_length"]
        brow_y = (traits["eye_y"] - traits["brow_gap"] - brow_lift
                  - traits["brow_arch"] * np.array([0.0, 1.0, 0.2]) - traits["brow_tilt"] * u)
        draw.polygon(pose(thick_polyline(curve(brow_x, brow_y), np.array([1.0, 1.0, 0.5]) * traits["brow_width"])),
                     fill=traits["brow_colour"])
    ny, nw = traits["nose_y"], traits["nose_width"]
    draw.line(pose(np.array([[0.07, traits["eye_y"] + 0.06], [0.1, ny - 0.05]]), depth=0.1), fill=shade(skin, 0.85),
              width=1)
    draw.polygon(pose(ellipse(0, ny, nw, 0.045, 10), depth=0.12), fill=shade(skin, traits["nose_shadow"]))
    for side in (-1, 1):
        draw.polygon(pose(ellipse(side * nw * 0.5, ny, nw * 0.3, 0.025, 8), depth=0.12), fill=shade(skin, 0.5))


def draw_lips(draw: ImageDraw.ImageDraw, pose: Pose, traits: dict, smiling: bool, opened: bool, rng) -> None:
    """The identity's lips (width, fullness, colour, resting curve) in this photo's expression (as faces.draw_mouth),
    with the mustache above them."""
    y0 = traits["mouth_y"]
    half = traits["mouth_half"] * (rng.uniform(1.1, 1.22) if smiling else rng.uniform(0.96, 1.04))
    bend = rng.uniform(0.07, 0.13) if smiling else traits["mouth_bend"] + rng.uniform(-0.015, 0.015)
    gap = (rng.uniform(0.1, 0.16) if smiling else rng.uniform(0.05, 0.11)) if opened else 0.0
    u = np.linspace(-1, 1, 9)
    x = u * half
    mid = y0 - bend * u ** 2
    upper_edge = mid - gap * 0.3 * (1 - u ** 2)
    lower_edge = mid + gap * (0.7 if smiling else 0.5) * (1 - u ** 2)
    full, lips = traits["lip_full"], traits["lips"]
    if rng.random() < traits["lipstick"]:  # today's lipstick, any shade
        lips = hsv_to_rgb(rng.uniform(-0.05, 0.02) % 1, rng.uniform(0.5, 0.85), rng.uniform(0.4, 0.8))
    draw_lip_shapes(draw, pose, x, u, mid, upper_edge, lower_edge, full, gap, smiling, lips)
    if traits["mustache"] is not None:
        top = curve(np.linspace(-1, 1, 9) * max(half, 0.27) * 1.05, y0 - full - 0.03 + 0.02 * u ** 2)
        top[:, 1] = np.minimum(top[:, 1], upper_edge - full - 0.03)
        draw.polygon(pose(np.concatenate([top + (0, -traits["mustache"]), top[::-1]])),
                     fill=shade(traits["hair"], 0.85))


def jitter_hair(traits: dict, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray | None]:
    """This photo's hair: the identity's shapes with more or less length and volume, the hairline a little higher
    or lower."""
    length = rng.uniform(0.8, 1.2)
    volume = rng.uniform(0.95, 1.06)
    hairline = rng.uniform(-0.06, 0.06)
    centre = np.array([0.0, -0.4])

    def puff(polygon):
        return (polygon - centre) * volume + centre

    back = []
    for polygon in traits["hair_back"]:
        polygon = puff(polygon)
        if len(polygon) == 6:  # a long strand (faces.hair_shapes): stretch what hangs below the ears
            polygon[:, 1] = np.where(polygon[:, 1] > 0.3, 0.3 + (polygon[:, 1] - 0.3) * length, polygon[:, 1])
        back.append(polygon)
    front = traits["hair_front"]
    if front is None:
        return back, None
    front = puff(front)
    front[-13:, 1] += hairline * (1 - np.linspace(-1, 1, 13) ** 4)  # faces.hair_shapes ends with 13 hairline points
    return back, front


def occlude(draw: ImageDraw.ImageDraw, pose: Pose, skin, rng: np.random.Generator) -> None:
    """Something in front of part of the face: a hand-like skin blob, or an object (ellipse, rectangle, polygon)."""
    cx, cy = rng.uniform(-0.9, 0.9), rng.uniform(-0.8, 1.2)
    rx, ry = rng.uniform(0.3, 0.75, 2)
    kind = rng.integers(3)
    colour = shade(skin, rng.uniform(0.85, 1.05)) if rng.random() < 0.3 else \
        hsv_to_rgb(rng.random(), rng.uniform(0, 0.8), rng.uniform(0.1, 0.95))
    if kind == 0:
        shape = ellipse(cx, cy, rx, ry, 16)
    elif kind == 1:
        angle = rng.uniform(-0.6, 0.6)
        corners = np.array([[-rx, -ry], [rx, -ry], [rx, ry], [-rx, ry]])
        c, s = math.cos(angle), math.sin(angle)
        shape = corners @ np.array([[c, s], [-s, c]]) + (cx, cy)
    else:
        t = np.sort(rng.uniform(0, 2 * math.pi, 7))
        r = rng.uniform(0.6, 1.0, 7)
        shape = np.stack([np.cos(t) * r * rx, np.sin(t) * r * ry], 1) + (cx, cy)
    draw.polygon(pose(shape, 0), fill=colour)


def render(traits: dict, rng: np.random.Generator, params: dict) -> Image.Image:
    """One photo of the person with these traits; everything else is drawn at random from `rng`."""
    width, height = params["width"], params["height"]
    size = (width * SUPERSAMPLE, height * SUPERSAMPLE)
    pose = Pose(rng, width, height)
    skin, hair, male = traits["skin"], traits["hair"], traits["male"]
    smiling = rng.random() < 0.4
    opened = rng.random() < (0.6 if smiling else 0.2)
    hat = rng.random() < 0.1
    sunglasses = rng.random() < 0.05
    glasses = not sunglasses and (rng.random() < 0.75 if traits["glasses_seed"] is not None else rng.random() < 0.04)
    earrings = traits["earrings_seed"] is not None and rng.random() < 0.6
    occluded = rng.random() < 0.1
    blurred = rng.random() < 0.15
    canvas = background(rng, size)
    draw = ImageDraw.Draw(canvas)

    draw_clothes(draw, pose, {"Male": male, "Wearing_Necktie": male and rng.random() < 0.12}, skin, rng)
    w = traits["width"]
    for side in (-1, 1):  # ears, behind the hair
        draw.polygon(pose(ellipse(side * w, traits["ear_y"], traits["ear_rx"], traits["ear_ry"], 10), 0.35),
                     fill=shade(skin, 0.9))
    back, front = jitter_hair(traits, rng)
    for polygon in back:
        draw.polygon(pose(polygon, 0.2), fill=hair)
    outline = traits["outline"]
    if traits["bald"]:  # the scalp, with a highlight
        draw.polygon(pose(ellipse(0, -0.35, w, 1.22, 24), 0.35), fill=skin)
        draw.polygon(pose(ellipse(-0.2, -1.15, 0.3, 0.15, 10), 0.35), fill=shade(skin, 1.1))
    draw.polygon(pose(outline, 0.35), fill=skin, outline=shade(skin, 0.8), width=1)
    if traits["cleft"]:
        chin = outline[:, 1].max()
        draw.line(pose(np.array([[0.0, chin - 0.16], [0.0, chin - 0.04]])), fill=shade(skin, 0.7), width=1)
    if traits["freckles"] is not None:
        alpha_patch(canvas, [pose(ellipse(x * w, y, 0.03, 0.03, 6)) for x, y in traits["freckles"]],
                    shade(skin, 0.6), 150)
    if traits["beard"] is not None:
        style, grow, alpha = traits["beard"]
        lower = outline[:len(outline) // 2 + 1]  # the jaw, right to left
        inner = np.array([[-0.9, 0.12], [-0.62, 0.42], [-0.4, 0.62], [-0.2, 0.8], [0.2, 0.8], [0.4, 0.62],
                          [0.62, 0.42], [0.9, 0.12]]) * (w, 1)
        inner[2:6, 1] += traits["mouth_y"] - 0.58  # round this person's mouth
        beard = np.concatenate([lower * (grow if style == "bushy" else 1.0), inner])
        if style == "bushy":
            draw.polygon(pose(beard, 0.35), fill=shade(hair, 0.9))
        else:  # stubble: a translucent shadow, a little darker or lighter from day to day
            alpha_patch(canvas, [pose(beard, 0.35)], shade(hair, 0.6), int(alpha * rng.uniform(0.8, 1.1)))
    if traits["rosy"] is not None:
        alpha_patch(canvas, [pose(ellipse(side * 0.52 * w, 0.22, 0.2, 0.13, 12)) for side in (-1, 1)],
                    (225, 90, 100), traits["rosy"])
    draw_age(draw, pose, {"Young": traits["young"]}, skin, np.random.default_rng(traits["age_seed"]))
    if traits["mole"] is not None:
        x, y, r = traits["mole"]
        draw.polygon(pose(ellipse(x * w, y, r, r, 8)), fill=mix(skin, (60, 35, 25), 0.75))
    draw_features(draw, pose, traits, smiling, rng)
    draw_lips(draw, pose, traits, smiling, opened, rng)
    if front is not None:
        draw.polygon(pose(front, 0.2), fill=hair)
    if earrings:
        draw_earrings(draw, pose, np.random.default_rng(traits["earrings_seed"]))
    if glasses:  # the person's own glasses when they have some, else any
        own = traits["glasses_seed"]
        draw_glasses(draw, pose, False, np.random.default_rng(own) if own is not None else rng)
    elif sunglasses:
        draw_glasses(draw, pose, True, rng)
    if hat:
        draw_hat(draw, pose, rng)
    if occluded:
        occlude(draw, pose, skin, rng)
    if blurred:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.4) * SUPERSAMPLE / 2))
    return finish(light(canvas.resize((width, height), Image.BOX), rng), rng)


def light(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A side light (a stronger brightness ramp than finish's), a colour cast (tungsten, daylight, shade, a green or
    magenta tint), more or less saturation, and sometimes (8%) a black-and-white photo."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.linspace(-1, 1, w)[None, :] * math.cos(angle) + np.linspace(-1, 1, h)[:, None] * math.sin(angle))
    pixels = pixels * (1 + rng.uniform(0, 0.35) * ramp[:, :, None]).astype(np.float32)
    warmth, tint = rng.normal(0, 0.07), rng.normal(0, 0.03)
    pixels = pixels * np.array([1 + warmth, 1 + tint, 1 - warmth], np.float32)
    grey = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    saturation = 0.0 if rng.random() < 0.08 else rng.uniform(0.65, 1.25)
    pixels = grey[:, :, None] + (pixels - grey[:, :, None]) * np.float32(saturation)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


# -------------------------------------------------------------------------------------------------- generation
def _count_range(params: dict, key: str, minimum: int) -> list[int]:
    value = params[key]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    try:
        low, high = (int(v) if isinstance(v, int) and not isinstance(v, bool) else None for v in value)
    except (TypeError, ValueError):
        low = high = None
    if low is None or high is None or not minimum <= low <= high:
        raise ValueError(f"data.generator.{key} must be [low, high] integers with {minimum} <= low <= high "
                         f"(or one integer >= {minimum}), got {value!r}")
    return [low, high]


def resolve_params(generator: dict | None = None) -> dict:
    """Defaults overridden by `generator` (e.g. Hydra's data.generator); unknown keys and bad counts are an error.
    Image-count ranges come back as [low, high] lists (an integer n means [n, n])."""
    params = merge_params(DEFAULT_PARAMS, generator)
    minimums = {"train_identities": 1, "test_identities": 2, "folds": 1, "pairs_per_fold": 1, "width": 16,
                "height": 16, "jpeg_quality": 1}
    for key, minimum in minimums.items():
        if not isinstance(params[key], int) or isinstance(params[key], bool) or params[key] < minimum:
            raise ValueError(f"data.generator.{key} must be an integer >= {minimum}, got {params[key]!r}")
    if params["jpeg_quality"] > 100:
        raise ValueError(f"data.generator.jpeg_quality must be in [1, 100], got {params['jpeg_quality']}")
    if params["test_identities"] < 2 * params["folds"]:
        raise ValueError(f"data.generator.test_identities ({params['test_identities']}) must be at least 2 per fold "
                         f"({params['folds']} folds), so every fold has mismatched pairs")
    params["train_images_per_identity"] = _count_range(params, "train_images_per_identity", 1)
    params["test_images_per_identity"] = _count_range(params, "test_images_per_identity", 2)
    return params


def make_pairs(counts: dict[str, int], folds: int, per_fold: int, rng: np.random.Generator) -> list[tuple]:
    """Per fold (disjoint sets of people, as LFW's): `per_fold` matched pairs (name, n1, n2), spread over the fold's
    people in turn, then `per_fold` mismatched pairs (name1, n1, name2, n2) of two of its people; none repeated,
    image numbers from 1. Raises ValueError when a fold has fewer distinct pairs than asked for."""
    names = sorted(counts)
    order = rng.permutation(len(names))
    lines = []
    for fold in range(folds):
        people = sorted(names[i] for i in order[fold::folds])
        candidates = []  # per person, their distinct image pairs in random order
        for name in people:
            n = counts[name]
            pairs = [(a, b) for a in range(1, n + 1) for b in range(a + 1, n + 1)]
            candidates.append([pairs[i] for i in rng.permutation(len(pairs))])
        if sum(map(len, candidates)) < per_fold:
            raise ValueError(f"fold {fold} has {sum(map(len, candidates))} distinct matched pairs, fewer than "
                             f"pairs_per_fold={per_fold}: add test identities or images, or lower pairs_per_fold")
        matched = []
        while len(matched) < per_fold:  # round robin over the fold's people in a random order
            for i in rng.permutation(len(people)):
                if candidates[i] and len(matched) < per_fold:
                    matched.append((people[i], *candidates[i].pop()))
        possible = sum(counts[a] * counts[b] for i, a in enumerate(people) for b in people[i + 1:])
        if possible < per_fold:
            raise ValueError(f"fold {fold} has {possible} distinct mismatched pairs, fewer than "
                             f"pairs_per_fold={per_fold}: add test identities or images, or lower pairs_per_fold")
        mismatched = set()
        while len(mismatched) < per_fold:
            i, j = sorted(rng.choice(len(people), 2, replace=False))
            a, b = people[i], people[j]
            mismatched.add((a, int(rng.integers(1, counts[a] + 1)), b, int(rng.integers(1, counts[b] + 1))))
        lines += sorted(matched) + sorted(mismatched)
    return lines


def generate_identities(out_dir: str | Path, params: dict | None = None) -> Path:
    """Write the whole dataset under `out_dir` (see module docstring). Same params -> identical files."""
    params = resolve_params(params)
    out_dir = Path(out_dir)
    seed, quality = params["seed"], params["jpeg_quality"]
    test_counts = {}
    for split_id, split in enumerate(SPLITS):
        identities = params[f"{split}_identities" if split == "train" else "test_identities"]
        low, high = params[f"{split}_images_per_identity" if split == "train" else "test_images_per_identity"]
        for identity in range(identities):
            rng = np.random.default_rng([seed, split_id, _IDENTITY, identity])
            count = int(rng.integers(low, high + 1))
            traits = sample_identity(rng)
            name = train_name(identity) if split == "train" else test_name(identity)
            folder = out_dir / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                image_rng = np.random.default_rng([seed, split_id, _IMAGE, identity, index])
                file = f"{index + 1:04d}.jpg" if split == "train" else f"{name}_{index + 1:04d}.jpg"
                render(traits, image_rng, params).save(folder / file, quality=quality)
            if split != "train":
                test_counts[name] = count
    pairs = make_pairs(test_counts, params["folds"], params["pairs_per_fold"],
                       np.random.default_rng([seed, len(SPLITS), _PAIRS]))
    header = f"{params['folds']}\t{params['pairs_per_fold']}"
    (out_dir / "pairs.txt").write_text("\n".join([header, *("\t".join(map(str, p)) for p in pairs)]) + "\n")
    return out_dir


def ensure_identities(generator: dict | None = None, cache_dir: str | Path | None = None) -> Path:
    """The embedded default dataset, generated once into the cache (regenerated if missing or incomplete); see
    data.cache.generated_folder for where."""
    params = resolve_params(generator)
    folder = generated_folder(DEFAULT_FOLDER_NAME, params, DEFAULT_PARAMS, cache_dir)
    return ensure_embedded("face identities", folder, params, DEFAULT_PARAMS,
                           lambda tmp: generate_identities(tmp, params), seconds=20)
