"""The land and sky in the world generator's photos (data/generate/world.py): the sky (gradient, the sun, stars,
clouds: cumulus in the tropics), mountains in the distance with snow caps (as high as the place's mountain index,
snow from its temperature and the season), the ground, farmland, and the trees (palms, broadleaf, deciduous,
conifers, cypress and olive, acacia, eucalyptus, saguaro), picked by climate and region (tree_weights).
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from data.generate.world_conditions import Conditions
from data.generate.world_geography import smooth
from data.generate.world_painting import Painter, choose, mix, shade, vary

# ------------------------------------------------------------------------------------------------ backgrounds
def draw_sky(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    side = p.image.size[0]
    bottom = max(1, int(c.horizon * p.k) + 2)
    gradient = Image.fromarray(np.array([[c.sky_top], [c.sky_bottom]], np.uint8)).resize((side, bottom), Image.BILINEAR)
    p.image.paste(gradient, (0, 0))
    if c.night:
        for _ in range(int(rng.integers(0, 25)) if c.weather in ("clear", "cloudy") else 0):  # stars
            x, y = rng.uniform(0, 100), rng.uniform(0, c.horizon * 0.7)
            p.rect(x, y, x + 0.4, y + 0.4, (200, 200, 210))
    elif c.weather in ("clear", "cloudy") and 0 < c.sun < 40 and rng.random() < 0.35:  # the sun in view
        y = c.horizon * (1 - c.sun / 40)
        x = rng.uniform(10, 90)
        p.ellipse(x, y, 5, 5, mix(c.sky_bottom, (255, 250, 225), 0.5))
        p.ellipse(x, y, 2.4, 2.4, (255, 252, 236) if c.sun > 10 else (255, 222, 160))
    if c.weather == "cloudy" or (c.weather == "clear" and rng.random() < 0.4):
        tropical = c.place.temperature > 0.75
        base = mix(c.sky_bottom, (250, 250, 252), 0.7) if not c.night else (40, 40, 55)
        for _ in range(int(rng.integers(1, 6))):
            x, y = rng.uniform(-10, 110), rng.uniform(4, c.horizon - 6)
            if tropical:  # cumulus: tall puffs with a flat grey base
                w = rng.uniform(6, 16)
                for _ in range(4):
                    p.ellipse(x + rng.uniform(-w, w) * 0.6, y - rng.uniform(0, w * 0.6), w * 0.5, w * 0.45, base)
                p.rect(x - w * 0.9, y, x + w * 0.9, y + w * 0.2, shade(base, 0.88))
            elif rng.random() < 0.5:  # streaks
                p.ellipse(x, y, rng.uniform(8, 25), rng.uniform(0.6, 1.6), base)
            else:
                for _ in range(3):
                    p.ellipse(x + rng.uniform(-6, 6), y + rng.uniform(-1.5, 1.5), rng.uniform(4, 10),
                              rng.uniform(1.5, 3.5), base)


def ridge(rng: np.random.Generator, horizon: float, height: float, n: int = 14) -> list:
    xs = np.linspace(-5, 105, n)
    steps = rng.normal(0, 1, n).cumsum()
    steps = (steps - steps.min()) / max(np.ptp(steps), 1e-6)
    ys = horizon - height * (0.35 + 0.65 * steps) * rng.uniform(0.7, 1.0, n)
    return list(zip(xs.tolist(), ys.tolist()))


def draw_mountains(p: Painter, c: Conditions, rng: np.random.Generator, far_only: bool = False) -> None:
    """Distant ranges: height from the place's mountain index, snow caps from its temperature and the season."""
    place = c.place
    height = 4 + 28 * place.mountain * rng.uniform(0.6, 1.1)
    if place.mountain < 0.15:
        height = rng.uniform(2, 7)  # hills
    for layer in range(1 if far_only else 2):
        h = height * (1.0 if layer == 0 else 0.55)
        points = ridge(rng, c.horizon + 0.5, h)
        if place.mountain > 0.35 or place.temperature < 0.1:
            rock = mix((120, 118, 115), c.veg, 0.35)
        else:
            rock = mix(c.veg, (80, 90, 80), 0.3) if place.aridity < 0.5 else mix(place.sand, (140, 110, 90), 0.4)
        colour = mix(rock, c.haze, 0.55 if layer == 0 else 0.3)
        p.poly(points + [(105, c.horizon + 1), (-5, c.horizon + 1)], colour)
        snowline = c.horizon - h * (1.2 - 1.3 * (1 - place.temperature) - (0.3 if c.season == "winter" else 0))
        if place.mountain > 0.3 or c.snow:
            cap = [(x, max(y + rng.uniform(1, 3), min(snowline, y + 6)) if y < snowline else y) for x, y in points]
            p.poly(points + cap[::-1], mix((240, 242, 248), c.haze, 0.3))


def draw_ground(p: Painter, c: Conditions, rng: np.random.Generator, top: float, colour=None, patches: int = 14):
    colour = colour or c.ground
    p.rect(0, top, 100, 100, colour)
    for _ in range(patches):
        y = rng.uniform(top, 100)
        depth = (y - top) / max(100 - top, 1)
        p.ellipse(rng.uniform(0, 100), y, rng.uniform(3, 14) * (0.4 + depth), rng.uniform(0.4, 2.5) * (0.4 + depth),
                  vary(shade(colour, rng.uniform(0.82, 1.12)), rng, 6))


def draw_fields(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    """Farmland bands (narrow European strips, wide American blocks, flooded rice terraces in monsoon Asia)."""
    style, place = c.place.style, c.place
    if c.snow or place.aridity > 0.7 or place.temperature < 0.15:
        return
    rice = style in ("se_asia", "east_asia", "south_asia") and place.temperature > 0.55 and rng.random() < 0.6
    y = c.horizon + 0.5
    step = 1.0
    while y < 100:
        h = step * rng.uniform(0.8, 1.6)
        if rice:
            colour = mix(c.veg, (150, 190, 120), rng.uniform(0, 0.6)) if rng.random() < 0.7 else mix(
                c.sky_bottom, (110, 130, 100), 0.5)
        else:
            colour = mix(c.ground, [(190, 170, 90), (120, 150, 60), (140, 110, 70), (90, 130, 60)][rng.integers(4)],
                         rng.uniform(0.2, 0.6))
        x0 = rng.uniform(-30, 40) if style != "north_america" else -5
        p.rect(x0, y, x0 + rng.uniform(40, 140), y + h, colour)
        y += h
        step *= 1.35


# ------------------------------------------------------------------------------------------------------ plants
def tree_weights(c: Conditions) -> dict:
    place, style = c.place, c.place.style
    t, a = place.temperature, place.aridity
    dry = smooth(a, 0.55, 0.85)
    temperate = smooth(t, 0.22, 0.35) * (1 - smooth(t, 0.62, 0.75))
    med = smooth(t, 0.5, 0.6) * (1 - smooth(t, 0.78, 0.85)) * (1.0 if style in ("med_eu", "mena") else 0.3)
    tropical = smooth(t, 0.72, 0.85)
    weights = {
        "conifer": (3 * (1 - smooth(t, 0.25, 0.5)) + 2.5 * smooth(place.mountain, 0.3, 0.7) * (t < 0.65))
        * smooth(t, 0.05, 0.12) * (1 - dry),
        "deciduous": 3 * temperate * (1 - dry),
        "poplar": 0.8 * temperate * (style in ("west_eu", "east_eu", "med_eu", "post_soviet")) * (1 - dry),
        "cypress": 2.0 * med * (1 - dry) * (2.5 if place.cc == "IT" else 1),
        "olive": 1.5 * med,
        "umbrella_pine": 0.8 * med * (style == "med_eu"),
        "palm": (2 + 3 * place.sea) * tropical + (1.5 * dry * (style == "mena")) + 0.5 * med * place.sea,
        "jungle": 3 * tropical * (1 - smooth(a, 0.2, 0.45)),
        "acacia": 3 * (style == "subsaharan") * smooth(t, 0.6, 0.8) * (smooth(a, 0.15, 0.3) + 0.3),
        "baobab": 0.4 * (style == "subsaharan") * smooth(t, 0.7, 0.85) * smooth(a, 0.2, 0.4),
        "eucalyptus": 4.0 * (place.cc == "AU"),
        "saguaro": 2.5 * (style in ("north_america", "latin")) * smooth(a, 0.6, 0.8) * smooth(t, 0.55, 0.7),
        "shrub": 2 * dry + 2 * (1 - smooth(t, 0.05, 0.15)) + 0.3,
    }
    return {k: float(v) for k, v in weights.items() if v > 0}


def draw_tree(p: Painter, c: Conditions, rng: np.random.Generator, kind: str, x: float, base: float, h: float):
    veg = c.veg if not c.snow else mix(c.veg, (60, 80, 60), 0.4)
    green = vary(shade(mix(veg, (40, 90, 40), 0.3), rng.uniform(0.75, 1.05)), rng, 10)
    trunk = vary((92, 70, 52), rng, 10)
    bare = c.season == "winter" and c.place.temperature < 0.6 and kind in ("deciduous", "poplar")
    if c.sun > 5 and not c.night and c.weather in ("clear", "cloudy"):  # a shadow on the ground
        length = min(4.0, 1 / math.tan(math.radians(max(c.sun, 8)))) * h * 0.25
        p.poly([(x - h * 0.15, base), (x + h * 0.15, base), (x + h * 0.15 - c.sun_side * length, base + h * 0.08),
                (x - h * 0.15 - c.sun_side * length, base + h * 0.08)], shade(c.ground, 0.65))
    if kind == "conifer":
        p.rect(x - h * 0.03, base - h * 0.15, x + h * 0.03, base, trunk)
        dark = shade(green, 0.7)
        for i in range(3):
            y0 = base - h * 0.12 - i * h * 0.28
            w = h * (0.26 - i * 0.06)
            p.poly([(x - w, y0), (x + w, y0), (x, y0 - h * 0.42)], dark)
            if c.snow:
                p.poly([(x - w * 0.4, y0 - h * 0.25), (x + w * 0.4, y0 - h * 0.25), (x, y0 - h * 0.42)],
                       (235, 238, 245))
    elif kind in ("deciduous", "poplar", "olive"):
        p.rect(x - h * 0.04, base - h * 0.45, x + h * 0.04, base, trunk)
        if bare:
            for s in (-1, 1):
                p.line([(x, base - h * 0.45), (x + s * h * 0.2, base - h * 0.85)], trunk, h * 0.03)
                p.line([(x, base - h * 0.6), (x + s * h * 0.1, base - h)], trunk, h * 0.02)
            return
        if c.season == "autumn" and c.place.temperature < 0.62 and kind != "olive":
            green = vary([(200, 120, 40), (180, 60, 30), (210, 170, 50), (120, 110, 40)][rng.integers(4)], rng, 15)
        if kind == "olive":
            green = vary((128, 136, 96), rng, 10)
        rx, ry = (h * 0.11, h * 0.5) if kind == "poplar" else (h * 0.32, h * 0.32)
        cy = base - h * (0.5 if kind == "poplar" else 0.62)
        for _ in range(3):
            p.ellipse(x + rng.uniform(-0.3, 0.3) * rx, cy + rng.uniform(-0.3, 0.3) * ry, rx * rng.uniform(0.7, 1.0),
                      ry * rng.uniform(0.7, 1.0), vary(green, rng, 10))
    elif kind == "cypress":
        p.poly([(x - h * 0.08, base - h * 0.05), (x - h * 0.1, base - h * 0.5), (x, base - h),
                (x + h * 0.1, base - h * 0.5), (x + h * 0.08, base - h * 0.05)], vary((38, 62, 38), rng, 8))
    elif kind == "umbrella_pine":
        p.line([(x, base), (x + rng.uniform(-0.1, 0.1) * h, base - h * 0.75)], trunk, h * 0.05)
        p.ellipse(x, base - h * 0.8, h * 0.4, h * 0.14, shade(green, 0.8))
    elif kind == "palm":
        lean = rng.uniform(-0.25, 0.25) * h
        top = (x + lean, base - h)
        p.line([(x, base), (x + lean * 0.5, base - h * 0.55), top], vary((130, 110, 80), rng, 10), h * 0.05)
        for k in range(7):
            angle = math.pi * (k / 6) + rng.uniform(-0.2, 0.2)
            end = (top[0] + math.cos(angle) * h * 0.38, top[1] - math.sin(angle) * h * 0.12 + h * 0.12)
            p.line([top, ((top[0] + end[0]) / 2, top[1] - h * 0.06), end], green, h * 0.04)
    elif kind == "jungle":
        for _ in range(5):
            p.ellipse(x + rng.uniform(-0.4, 0.4) * h, base - rng.uniform(0.2, 0.8) * h, h * rng.uniform(0.2, 0.4),
                      h * rng.uniform(0.2, 0.35), vary(shade(green, rng.uniform(0.6, 1.0)), rng, 10))
    elif kind in ("acacia", "baobab"):
        if kind == "acacia":
            p.line([(x, base), (x, base - h * 0.5), (x - h * 0.2, base - h * 0.8)], trunk, h * 0.03)
            p.line([(x, base - h * 0.5), (x + h * 0.2, base - h * 0.8)], trunk, h * 0.03)
            p.ellipse(x, base - h * 0.85, h * 0.45, h * 0.09, vary((98, 112, 52), rng, 10))
        else:
            p.poly([(x - h * 0.14, base), (x + h * 0.14, base), (x + h * 0.09, base - h * 0.7),
                    (x - h * 0.09, base - h * 0.7)], vary((128, 110, 98), rng, 8))
            for s in (-1, 0, 1):
                p.line([(x + s * h * 0.05, base - h * 0.68), (x + s * h * 0.25, base - h * 0.95)], (110, 92, 80),
                       h * 0.03)
    elif kind == "eucalyptus":
        p.line([(x, base), (x + rng.uniform(-0.1, 0.1) * h, base - h * 0.7)], vary((215, 210, 200), rng, 10), h * 0.05)
        for _ in range(3):
            p.ellipse(x + rng.uniform(-0.25, 0.25) * h, base - rng.uniform(0.55, 0.95) * h, h * 0.2, h * 0.12,
                      vary((112, 138, 108), rng, 10))
    elif kind == "saguaro":
        cactus = vary((72, 112, 62), rng, 8)
        p.rect(x - h * 0.06, base - h, x + h * 0.06, base, cactus)
        for s in (-1, 1):
            if rng.random() < 0.7:
                y = base - h * rng.uniform(0.4, 0.6)
                p.rect(x + s * h * 0.06, y, x + s * h * 0.2, y + h * 0.06, cactus)
                p.rect(x + s * h * 0.14, y - h * 0.25, x + s * h * 0.2, y + h * 0.06, cactus)
    else:  # shrub
        colour = mix(green, c.ground, 0.3) if not c.snow else (90, 95, 80)
        p.ellipse(x, base - h * 0.15, h * 0.25, h * 0.15, colour)


def draw_trees(p: Painter, c: Conditions, rng: np.random.Generator, n: int, y0: float, y1: float,
               size: float = 1.0) -> None:
    """`n` trees between ground lines y0 (far, small) and y1 (near, large), far first."""
    weights = tree_weights(c)
    if not weights or n <= 0:
        return
    kind = choose(rng, weights)  # one main kind, a few others
    for y in sorted(rng.uniform(min(y0, y1), y1, n)):
        depth = (y - c.horizon) / max(100 - c.horizon, 1)
        k = kind if rng.random() < 0.7 else choose(rng, weights)
        draw_tree(p, c, rng, k, rng.uniform(-5, 105), y, size * (4 + 40 * depth) * rng.uniform(0.7, 1.2))
