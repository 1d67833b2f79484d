"""Buildings in the world generator's photos (data/generate/world.py), in the place's style (world_styles.py):
houses with windows and a roof (gable, hip, mansard, curved East Asian eaves, corrugated metal, dome, flat with
water tanks and rebar), the same roofs seen from above, panel blocks, glass towers, the special buildings of each
style (spires, mosques, pagodas, stupas, onion domes, huts, wind turbines...), and shop signs with text-like marks
in the country's script.
"""
from __future__ import annotations

import math

import numpy as np

from data.generate.world_conditions import Conditions
from data.generate.world_landscape import draw_tree
from data.generate.world_painting import Painter, choose, mix, shade, vary
from data.generate.world_styles import SCRIPT_OF

# --------------------------------------------------------------------------------------------------- buildings
def wall_colour(c: Conditions, rng: np.random.Generator) -> tuple:
    walls = c.look["walls"]
    k = c.wall_bias if rng.random() < 0.35 else int(rng.integers(len(walls)))
    return vary(walls[k], rng, 12)


def glass_colour(c: Conditions, rng: np.random.Generator) -> tuple:
    if c.night:
        return (250, 214, 132) if rng.random() < 0.55 else (22, 26, 36)
    return vary(mix(c.sky_top, (40, 50, 62), 0.6), rng, 10)


def cast_shadow(p: Painter, c: Conditions, x0: float, x1: float, base: float, h: float) -> None:
    if c.sun > 4 and not c.night and c.weather in ("clear", "cloudy"):
        length = min(5.0, 1 / math.tan(math.radians(max(c.sun, 6)))) * h * 0.12
        edge = x0 if c.sun_side > 0 else x1
        p.poly([(edge, base), (edge - c.sun_side * length, base + min(length * 0.3, 6)), (x0 + x1 - edge, base),
                ], shade(c.ground, 0.7))


def draw_windows(p: Painter, c: Conditions, rng: np.random.Generator, x: float, base: float, w: float,
                 floors: int, floor_h: float, s: float, door: bool = True) -> None:
    cols = max(1, int(w / (4.2 * s)))
    ww, wh = min(1.8 * s, w / cols * 0.6), 2.2 * s
    glass = glass_colour(c, rng)
    frame = rng.random() < 0.3 and c.place.style in ("med_eu", "east_eu", "west_eu")
    for f in range(floors):
        y = base - (f + 1) * floor_h + 0.9 * s
        for col in range(cols):
            cx = x + (col + 0.5) * w / cols
            if door and f == 0 and col == cols // 2:
                p.rect(cx - ww * 0.6, base - floor_h * 0.85, cx + ww * 0.6, base, vary((70, 50, 40), rng, 15))
                continue
            if c.night and rng.random() < 0.4:
                glass = glass_colour(c, rng)
            p.rect(cx - ww / 2, y, cx + ww / 2, y + wh, glass)
            if frame:  # shutters
                p.rect(cx - ww, y, cx - ww / 2, y + wh, vary((70, 110, 80), rng, 10))


def draw_roof(p: Painter, c: Conditions, rng: np.random.Generator, kind: str, x: float, top: float, w: float,
              s: float) -> None:
    look = c.look
    roof = vary(look["roofs"][int(rng.integers(len(look["roofs"])))], rng, 10)
    if c.snow and kind not in ("flat", "dome"):
        roof = (236, 238, 244)
    pitch = look.get("pitch", 0.3) * rng.uniform(0.8, 1.2)
    if kind == "gable":
        if rng.random() < 0.5:  # gable end towards us
            p.poly([(x - 0.6 * s, top), (x + w + 0.6 * s, top), (x + w / 2, top - pitch * w)], roof)
        else:
            p.poly([(x - 0.8 * s, top), (x + w + 0.8 * s, top), (x + w - pitch * w * 0.5, top - pitch * w * 0.5),
                    (x + pitch * w * 0.5, top - pitch * w * 0.5)], roof)
    elif kind == "hip":
        h = pitch * w * 0.45
        p.poly([(x - 0.8 * s, top), (x + w + 0.8 * s, top), (x + w - h * 1.4, top - h), (x + h * 1.4, top - h)], roof)
    elif kind == "mansard":
        h = 3.6 * s
        p.poly([(x - 0.4 * s, top), (x + w + 0.4 * s, top), (x + w - 1.0 * s, top - h), (x + 1.0 * s, top - h)], roof)
        for k in range(max(1, int(w / (5 * s)))):
            cx = x + (k + 0.5) * w / max(1, int(w / (5 * s)))
            p.rect(cx - 0.7 * s, top - h * 0.75, cx + 0.7 * s, top - h * 0.2, glass_colour(c, rng))
    elif kind == "curved":  # East Asian eaves turned up at the ends
        h = max(pitch, 0.25) * w * 0.4
        p.poly([(x - 2.5 * s, top - 1.2 * s), (x - 1.2 * s, top), (x + w + 1.2 * s, top),
                (x + w + 2.5 * s, top - 1.2 * s),
                (x + w - h, top - h), (x + h, top - h)], roof)
        p.line([(x + h, top - h), (x + w - h, top - h)], shade(roof, 0.7), 0.6 * s)
    elif kind == "corrugated":
        roof = vary([(170, 176, 182), (150, 82, 52), (120, 110, 100), (70, 110, 160)][rng.integers(4)], rng, 12)
        rise = rng.uniform(0.8, 2.4) * s
        p.poly([(x - 0.8 * s, top), (x + w + 0.8 * s, top), (x + w + 0.8 * s, top - rise * 0.3),
                (x - 0.8 * s, top - rise)],
               roof)
        for k in range(int(w / (1.5 * s))):
            xx = x + k * 1.5 * s
            p.line([(xx, top), (xx, top - rise * (1 - 0.7 * (xx - x) / w))], shade(roof, 0.8), 0.25 * s)
    elif kind == "dome":
        p.rect(x, top - 0.6 * s, x + w, top, shade(roof, 0.9))
        p.dome(x + w / 2, top - 0.6 * s, w * 0.25, w * 0.25, vary(c.look.get("dome_colour", (236, 230, 220)), rng, 10))
    else:  # flat: parapet, water tanks, rebar
        p.rect(x - 0.3 * s, top - 0.8 * s, x + w + 0.3 * s, top, shade(roof, 0.85))
        if rng.random() < look.get("water_tanks", 0.0):
            for _ in range(int(rng.integers(1, 3))):
                tx = x + rng.uniform(0.15, 0.85) * w
                p.rect(tx - 1.0 * s, top - 3.0 * s, tx + 1.0 * s, top - 0.8 * s,
                       vary([(30, 30, 34), (60, 90, 150), (230, 230, 230)][rng.integers(3)], rng, 10))
        if rng.random() < look.get("rebar", 0.0):
            for k in range(int(rng.integers(2, 6))):
                xx = x + rng.uniform(0, w)
                p.line([(xx, top), (xx, top - 2.5 * s)], (90, 70, 60), 0.2 * s)
    if rng.random() < look.get("chimneys", 0.1) and kind in ("gable", "hip", "mansard"):
        cx = x + rng.uniform(0.2, 0.8) * w
        p.rect(cx - 0.8 * s, top - 4.5 * s, cx + 0.8 * s, top - 1 * s, vary((140, 70, 50), rng, 10))


def draw_roof_above(p: Painter, c: Conditions, rng: np.random.Generator, x: float, top: float, w: float,
                    s: float) -> None:
    """A roof seen from above (from a hill or a tower): the slope facing us, or a flat top with its clutter."""
    look = c.look
    kind = choose(rng, look["roof_kinds"])
    roof = vary(look["roofs"][int(rng.integers(len(look["roofs"])))], rng, 10)
    if kind == "corrugated":
        roof = vary([(170, 176, 182), (150, 82, 52), (120, 110, 100), (70, 110, 160)][rng.integers(4)], rng, 12)
    if c.snow and kind not in ("flat", "dome"):
        roof = (236, 238, 244)
    depth = w * rng.uniform(0.35, 0.6)
    if kind in ("flat", "dome"):
        slab = shade(roof, rng.uniform(0.95, 1.1))
        off = rng.uniform(-0.2, 0.2) * depth
        p.poly([(x, top), (x + w, top), (x + w + off, top - depth * 0.6), (x + off, top - depth * 0.6)], slab)
        p.line([(x + off, top - depth * 0.6), (x + w + off, top - depth * 0.6), (x + w, top)], shade(slab, 0.8),
               0.4 * s)
        if rng.random() < look.get("water_tanks", 0.1) + 0.1:
            tank = vary([(30, 30, 34), (60, 90, 150), (230, 230, 230)][rng.integers(3)], rng, 10)
            tx = x + rng.uniform(0.2, 0.8) * w
            p.rect(tx - 1.2 * s, top - depth * 0.45, tx + 1.2 * s, top - depth * 0.2, tank)
        if rng.random() < look.get("rebar", 0.0):
            for _ in range(int(rng.integers(2, 5))):
                xx = x + rng.uniform(0, w)
                p.line([(xx, top - depth * 0.3), (xx, top - depth * 0.3 - 2.5 * s)], (90, 70, 60), 0.2 * s)
        return
    inset = {"hip": 0.5, "mansard": 0.25}.get(kind, 0.0) * depth
    points = [(x - 0.6 * s, top), (x + w + 0.6 * s, top), (x + w - inset, top - depth), (x + inset, top - depth)]
    if kind == "curved":  # the eaves turned up at both ends
        points = [(x - 2.2 * s, top - 1.4 * s), (x - 0.8 * s, top), (x + w + 0.8 * s, top),
                  (x + w + 2.2 * s, top - 1.4 * s), (x + w - 0.1 * depth, top - depth), (x + 0.1 * depth, top - depth)]
    p.poly(points, roof)
    p.line([(x + inset, top - depth), (x + w - inset, top - depth)], shade(roof, 0.7), 0.5 * s)
    rows = int(depth / (1.6 * s)) if s > 0.45 else 0
    course = shade(roof, 0.88)
    for k in range(1, rows):  # tile courses
        y = top - k * depth / rows
        p.line([(x + inset * k / rows, y), (x + w - inset * k / rows, y)], course, 0.15 * s)
    if kind == "corrugated" and s > 0.35:
        ridge_colour = shade(roof, 0.8)
        for k in range(int(w / (1.5 * s))):
            xx = x + k * 1.5 * s
            p.line([(xx, top), (xx, top - depth)], ridge_colour, 0.2 * s)
    if rng.random() < look.get("chimneys", 0.1):
        cx = x + rng.uniform(0.2, 0.8) * w
        p.rect(cx - 0.8 * s, top - depth * 0.8, cx + 0.8 * s, top - depth * 0.4, vary((140, 70, 50), rng, 10))


def draw_house(p: Painter, c: Conditions, rng: np.random.Generator, x: float, base: float, w: float, floors: int,
               s: float, sign: float = 0.0) -> float:
    """A building in the country's style: walls, windows, roof (and maybe a shop sign). Returns its top."""
    floor_h = 4.0 * s
    top = base - floors * floor_h - 0.6 * s
    cast_shadow(p, c, x, x + w, base, base - top)
    p.rect(x, top, x + w, base, wall_colour(c, rng))
    draw_windows(p, c, rng, x, base, w, floors, floor_h, s)
    kind = choose(rng, c.look["roof_kinds"])
    if floors > 5 and kind in ("gable", "curved", "mansard") and rng.random() < 0.6:
        kind = "flat"
    draw_roof(p, c, rng, kind, x, top, w, s)
    if rng.random() < sign:
        draw_sign(p, c, rng, x + w * 0.1, base - floor_h * 0.98, x + w * 0.9, base - floor_h * 0.7)
    return top


def draw_block(p: Painter, c: Conditions, rng: np.random.Generator, x: float, base: float, w: float, floors: int,
               s: float) -> None:
    """A prefabricated panel block: a long slab with a dense grid of windows (and coloured balconies)."""
    floor_h = 3.2 * s
    top = base - floors * floor_h - 0.5 * s
    cast_shadow(p, c, x, x + w, base, base - top)
    wall = vary([(182, 182, 176), (204, 192, 168), (172, 180, 192), (220, 220, 214)][rng.integers(4)], rng, 10)
    p.rect(x, top, x + w, base, wall)
    if rng.random() < 0.4:
        stripe = vary([(200, 90, 70), (80, 140, 200), (220, 190, 80)][rng.integers(3)], rng, 10)
        sx = x + rng.uniform(0.1, 0.7) * w
        p.rect(sx, top, sx + w * 0.12, base, stripe)
    draw_windows(p, c, rng, x, base, w, floors, floor_h, s * 0.8, door=False)


def draw_tower(p: Painter, c: Conditions, rng: np.random.Generator, x: float, base: float, w: float, h: float,
               silhouette=None) -> None:
    """A glass or concrete high-rise; a flat silhouette in the haze colour when far away."""
    top = base - h
    if silhouette is not None:
        p.rect(x, top, x + w, base, silhouette)
        if rng.random() < 0.3:
            p.line([(x + w / 2, top), (x + w / 2, top - h * 0.12)], silhouette, 0.3)
        return
    cast_shadow(p, c, x, x + w, base, h)
    glass = vary(mix(c.sky_top, [(60, 90, 110), (90, 100, 110), (40, 70, 90), (150, 160, 160)][rng.integers(4)], 0.6),
                 rng, 10)
    p.rect(x, top, x + w, base, glass)
    p.rect(x + w * 0.7, top, x + w, base, shade(glass, 0.8))  # the side in shade
    if c.night:
        for _ in range(int(h / 2)):
            wx, wy = x + rng.uniform(0, w - 0.8), rng.uniform(top, base - 1)
            p.rect(wx, wy, wx + 0.8, wy + 0.6, (250, 214, 132))
    else:
        for k in range(1, int(h / 2.2)):
            p.line([(x, top + k * 2.2), (x + w, top + k * 2.2)], shade(glass, 0.88), 0.2)
    crown = rng.random()
    if crown < 0.25:
        p.line([(x + w / 2, top), (x + w / 2, top - h * 0.15)], (180, 180, 185), 0.35)
    elif crown < 0.4:
        p.poly([(x, top), (x + w, top), (x + w / 2, top - w * 0.8)], shade(glass, 1.1))


def draw_special(p: Painter, c: Conditions, rng: np.random.Generator, kind: str, x: float, base: float,
                 s: float) -> None:
    """A building typical of the style (church, mosque, pagoda, stupa...), about `s` x a house in size."""
    stone = vary((200, 192, 176), rng, 12)
    gold = vary((214, 176, 62), rng, 12)
    if kind in ("spire", "white_church"):
        body = (238, 238, 234) if kind == "white_church" else stone
        roof = vary((70, 72, 80), rng, 10)
        p.rect(x, base - 10 * s, x + 16 * s, base, body)
        p.poly([(x - 0.5 * s, base - 10 * s), (x + 16.5 * s, base - 10 * s), (x + 13 * s, base - 15 * s),
                (x + 3 * s, base - 15 * s)], roof)
        p.rect(x + 1 * s, base - 24 * s, x + 6 * s, base, body)
        p.poly([(x + 0.6 * s, base - 24 * s), (x + 6.4 * s, base - 24 * s), (x + 3.5 * s, base - 38 * s)],
               (92, 140, 122) if rng.random() < 0.3 else roof)
        p.ellipse(x + 3.5 * s, base - 20 * s, 1.2 * s, 1.2 * s, (40, 40, 40))
    elif kind == "clock_tower":
        p.rect(x, base - 30 * s, x + 6 * s, base, stone)
        p.ellipse(x + 3 * s, base - 25 * s, 1.8 * s, 1.8 * s, (240, 236, 220))
        p.poly([(x - 0.5 * s, base - 30 * s), (x + 6.5 * s, base - 30 * s), (x + 3 * s, base - 37 * s)], (70, 72, 80))
        p.rect(x + 6 * s, base - 12 * s, x + 20 * s, base, stone)
    elif kind == "bulb_spire":
        p.rect(x, base - 10 * s, x + 14 * s, base, wall_colour(c, rng))
        p.rect(x + 5 * s, base - 22 * s, x + 9 * s, base, wall_colour(c, rng))
        green = vary((92, 142, 122), rng, 10)
        p.ellipse(x + 7 * s, base - 24.5 * s, 2.6 * s, 2.6 * s, green)
        p.poly([(x + 6 * s, base - 26 * s), (x + 8 * s, base - 26 * s), (x + 7 * s, base - 33 * s)], green)
    elif kind == "onion":
        body = vary([(238, 236, 228), (222, 202, 160), (200, 90, 70)][rng.integers(3)], rng, 10)
        p.rect(x, base - 12 * s, x + 16 * s, base, body)
        domes = int(rng.integers(1, 6))
        colour = vary([(214, 176, 62), (60, 100, 170), (60, 130, 90)][rng.integers(3)], rng, 10)
        for k in range(domes):
            cx = x + 8 * s + (k - (domes - 1) / 2) * 4 * s
            h = (7 if k == domes // 2 else 3.5) * s
            p.rect(cx - 1.4 * s, base - 12 * s - h, cx + 1.4 * s, base - 12 * s, body)
            p.ellipse(cx, base - 12 * s - h - 1.6 * s, 2.2 * s, 2.0 * s, colour)
            p.poly([(cx - 1.2 * s, base - 12 * s - h - 2.6 * s), (cx + 1.2 * s, base - 12 * s - h - 2.6 * s),
                    (cx, base - 12 * s - h - 5.5 * s)], colour)
    elif kind == "campanile":
        brick = vary((170, 100, 66), rng, 12)
        p.rect(x, base - 30 * s, x + 6 * s, base, brick)
        for k in range(2):
            p.rect(x + (1 + k * 2.5) * s, base - 27 * s, x + (2.5 + k * 2.5) * s, base - 24 * s, (40, 36, 34))
        p.poly([(x - 0.4 * s, base - 30 * s), (x + 6.4 * s, base - 30 * s), (x + 3 * s, base - 34 * s)],
               vary((186, 92, 56), rng, 10))
        p.rect(x + 6 * s, base - 8 * s, x + 18 * s, base, wall_colour(c, rng))
    elif kind in ("church_dome", "blue_dome"):
        body = (246, 246, 246) if kind == "blue_dome" else stone
        dome = vary((50, 100, 190), rng, 10) if kind == "blue_dome" else vary((150, 150, 140), rng, 15)
        p.rect(x, base - 9 * s, x + 14 * s, base, body)
        p.rect(x + 4 * s, base - 13 * s, x + 10 * s, base - 9 * s, body)
        p.dome(x + 7 * s, base - 13 * s, 3.6 * s, 4.5 * s, dome)
        p.line([(x + 7 * s, base - 17.5 * s), (x + 7 * s, base - 20 * s)], (60, 60, 60), 0.4 * s)
    elif kind == "mosque":
        body = vary([(236, 231, 221), (216, 192, 152), (200, 200, 196)][rng.integers(3)], rng, 10)
        dome = vary(c.look.get("dome_colour", [(220, 220, 216), (70, 150, 100), (160, 165, 170)][rng.integers(3)]),
                    rng, 10)
        p.rect(x, base - 9 * s, x + 18 * s, base, body)
        p.dome(x + 9 * s, base - 9 * s, 6 * s, 7 * s, dome)
        p.line([(x + 9 * s, base - 16 * s), (x + 9 * s, base - 18.5 * s)], gold, 0.4 * s)
        for mx in ([x - 2 * s, x + 19 * s] if rng.random() < 0.6 else [x - 2 * s]):
            p.rect(mx, base - 30 * s, mx + 1.6 * s, base, body)
            p.rect(mx - 0.5 * s, base - 24 * s, mx + 2.1 * s, base - 23 * s, shade(body, 0.85))
            p.poly([(mx - 0.1 * s, base - 30 * s), (mx + 1.7 * s, base - 30 * s), (mx + 0.8 * s, base - 34 * s)], dome)
    elif kind == "palm_fort":
        mud = vary((182, 140, 96), rng, 10)
        p.rect(x, base - 9 * s, x + 24 * s, base, mud)
        for k in range(8):
            p.rect(x + k * 3 * s, base - 10.5 * s, x + (k * 3 + 1.5) * s, base - 9 * s, mud)
        p.rect(x - 1 * s, base - 14 * s, x + 4 * s, base, shade(mud, 0.9))
    elif kind == "shikhara":
        body = vary([(226, 170, 90), (240, 236, 226), (210, 120, 70)][rng.integers(3)], rng, 10)
        p.rect(x, base - 7 * s, x + 16 * s, base, body)
        p.poly([(x + 3 * s, base - 7 * s), (x + 13 * s, base - 7 * s), (x + 12 * s, base - 18 * s),
                (x + 10 * s, base - 24 * s), (x + 8 * s, base - 26 * s), (x + 6 * s, base - 24 * s),
                (x + 4 * s, base - 18 * s)], body)
        for k in range(4):
            y = base - (10 + k * 4) * s
            p.line([(x + (4 + k * 0.4) * s, y), (x + (12 - k * 0.4) * s, y)],
                   shade(body, 0.8), 0.4 * s)
        p.line([(x + 8 * s, base - 26 * s), (x + 8 * s, base - 31 * s)], (90, 70, 50), 0.3 * s)
        p.poly([(x + 8 * s, base - 31 * s), (x + 12 * s, base - 30 * s), (x + 8 * s, base - 29 * s)], (250, 130, 30))
    elif kind == "pagoda":
        wood = vary([(150, 40, 36), (70, 50, 40), (200, 190, 170)][rng.integers(3)], rng, 10)
        roof = vary((60, 62, 70), rng, 8)
        tiers = int(rng.integers(3, 6))
        for k in range(tiers):
            w = (12 - k * 1.8) * s
            y = base - k * 5 * s
            p.rect(x - w / 2, y - 4 * s, x + w / 2, y, wood)
            p.poly([(x - w / 2 - 3 * s, y - 3.6 * s), (x - w / 2 - 1 * s, y - 4.2 * s), (x - w / 4, y - 5.5 * s),
                    (x + w / 4, y - 5.5 * s), (x + w / 2 + 1 * s, y - 4.2 * s), (x + w / 2 + 3 * s, y - 3.6 * s)], roof)
        p.line([(x, base - tiers * 5 * s), (x, base - tiers * 5 * s - 5 * s)], gold, 0.4 * s)
    elif kind == "torii":
        red = vary((210, 60, 40), rng, 10)
        for dx in (-5 * s, 5 * s):
            p.rect(x + dx - 0.6 * s, base - 14 * s, x + dx + 0.6 * s, base, red)
        p.poly([(x - 8 * s, base - 15.5 * s), (x + 8 * s, base - 15.5 * s), (x + 7 * s, base - 14 * s),
                (x - 7 * s, base - 14 * s)], (40, 36, 36))
        p.rect(x - 6 * s, base - 11.5 * s, x + 6 * s, base - 10.5 * s, red)
    elif kind == "stupa":
        white = vary((240, 236, 226), rng, 8)
        if rng.random() < 0.5:  # a golden bell-shaped stupa
            p.rect(x - 6 * s, base - 3 * s, x + 6 * s, base, white)
            p.dome(x, base - 3 * s, 4.5 * s, 6 * s, gold)
            p.poly([(x - 1.8 * s, base - 8.5 * s), (x + 1.8 * s, base - 8.5 * s), (x, base - 20 * s)], gold)
        else:  # a temple with stacked, steep, red and green roofs and golden finials
            p.rect(x - 8 * s, base - 7 * s, x + 8 * s, base, white)
            for k, colour in enumerate([(180, 50, 40), (50, 110, 70), (180, 50, 40)]):
                w = (10 - k * 2.5) * s
                y = base - (7 + k * 3.2) * s
                p.poly([(x - w, y), (x + w, y), (x + w * 0.3, y - 5 * s), (x - w * 0.3, y - 5 * s)], colour)
                p.line([(x + w, y), (x + w + 1.2 * s, y - 2 * s)], gold, 0.4 * s)
                p.line([(x - w, y), (x - w - 1.2 * s, y - 2 * s)], gold, 0.4 * s)
    elif kind == "colonial_church":
        body = vary([(242, 222, 142), (240, 238, 232), (226, 170, 120)][rng.integers(3)], rng, 10)
        p.rect(x, base - 14 * s, x + 18 * s, base, body)
        p.poly([(x + 4 * s, base - 14 * s), (x + 14 * s, base - 14 * s), (x + 9 * s, base - 19 * s)], body)
        for tx in (x, x + 13.5 * s):
            p.rect(tx, base - 24 * s, tx + 4.5 * s, base, shade(body, 0.95))
            p.dome(tx + 2.25 * s, base - 24 * s, 2.2 * s, 2.6 * s, shade(body, 0.8))
            p.rect(tx + 1.5 * s, base - 21 * s, tx + 3 * s, base - 18 * s, (50, 44, 40))
        p.rect(x + 7.5 * s, base - 7 * s, x + 10.5 * s, base, (80, 56, 40))
    elif kind == "huts":
        for k in range(int(rng.integers(2, 5))):
            hx = x + k * rng.uniform(7, 11) * s
            mud = vary((160, 104, 70), rng, 12)
            p.rect(hx, base - 4.5 * s, hx + 6 * s, base, mud)
            p.poly([(hx - 1.5 * s, base - 4.5 * s), (hx + 7.5 * s, base - 4.5 * s), (hx + 3 * s, base - 10 * s)],
                   vary((176, 146, 86), rng, 12))
    elif kind == "ger":
        for k in range(int(rng.integers(1, 4))):
            gx = x + k * 10 * s
            p.rect(gx, base - 3.5 * s, gx + 8 * s, base, (236, 234, 226))
            p.dome(gx + 4 * s, base - 3.5 * s, 4.5 * s, 2.5 * s, (226, 224, 216))
            p.rect(gx + 3.2 * s, base - 2.8 * s, gx + 4.8 * s, base, (200, 90, 40))
    elif kind == "water_tower":
        for dx in (-3, -1, 1, 3):
            p.line([(x + dx * s, base), (x + dx * 0.6 * s, base - 16 * s)], (120, 120, 125), 0.3 * s)
        tank = vary([(220, 222, 226), (90, 140, 190)][rng.integers(2)], rng, 8)
        p.rect(x - 4 * s, base - 22 * s, x + 4 * s, base - 16 * s, tank)
        p.dome(x, base - 22 * s, 4 * s, 2 * s, (200, 202, 206))
    elif kind == "silo":
        for k in range(int(rng.integers(1, 4))):
            sx = x + k * 4.5 * s
            p.rect(sx, base - 18 * s, sx + 4 * s, base, vary((186, 188, 190), rng, 8))
            p.dome(sx + 2 * s, base - 18 * s, 2 * s, 1.5 * s, (170, 172, 176))
        p.rect(x - 12 * s, base - 8 * s, x - 1 * s, base, vary((150, 40, 34), rng, 10))
        p.poly([(x - 13 * s, base - 8 * s), (x, base - 8 * s), (x - 6.5 * s, base - 12 * s)], (70, 60, 56))
    elif kind == "turbine":
        for k in range(int(rng.integers(1, 4))):
            tx, th = x + k * 9 * s, 26 * s
            p.line([(tx, base), (tx, base - th)], (235, 236, 238), 0.5 * s)
            a0 = rng.uniform(0, 2 * math.pi)
            for b in range(3):
                a = a0 + b * 2 * math.pi / 3
                p.line([(tx, base - th), (tx + math.cos(a) * 9 * s, base - th + math.sin(a) * 9 * s)], (235, 236, 238),
                       0.4 * s)
    elif kind == "windmill":
        p.poly([(x - 3 * s, base), (x + 3 * s, base), (x + 1.8 * s, base - 12 * s), (x - 1.8 * s, base - 12 * s)],
               vary((90, 70, 56), rng, 10))
        a0 = rng.uniform(0, math.pi / 2)
        for b in range(4):
            a = a0 + b * math.pi / 2
            p.line([(x, base - 12 * s), (x + math.cos(a) * 10 * s, base - 12 * s + math.sin(a) * 10 * s)],
                   (230, 226, 220),
                   0.9 * s)
    elif kind == "tv_tower":
        p.line([(x, base), (x, base - 40 * s)], (200, 200, 196), 0.9 * s)
        p.ellipse(x, base - 30 * s, 2.2 * s, 2.2 * s, (190, 190, 190))
        p.line([(x, base - 40 * s), (x, base - 48 * s)], (200, 60, 50), 0.3 * s)
    elif kind == "cypress_row":
        for k in range(int(rng.integers(4, 9))):
            draw_tree(p, c, rng, "cypress", x + k * 4 * s, base, 14 * s)


# ------------------------------------------------------------------------------------------------------- signs
def draw_glyphs(p: Painter, rng: np.random.Generator, script: str, x0: float, y0: float, x1: float, y1: float,
                ink) -> None:
    """Text-like marks in the country's script inside a box."""
    h, w = y1 - y0, x1 - x0
    g = h * 0.7  # glyph size
    if script in ("cjk", "hangul") and h > w:  # a vertical sign
        y = y0 + g * 0.2
        while y + g < y1:
            cx = (x0 + x1) / 2
            if script == "cjk":
                p.line([(cx - g / 2.5, y + g / 3), (cx + g / 2.5, y + g / 3)], ink, g * 0.12)
                p.line([(cx, y), (cx, y + g * 0.9)], ink, g * 0.12)
                p.line([(cx - g / 3, y + g * 0.8), (cx + g / 3, y + g * 0.6)], ink, g * 0.12)
            else:
                p.ellipse(cx, y + g / 3, g / 4, g / 4, ink)
                p.line([(cx - g / 2.5, y + g * 0.85), (cx + g / 2.5, y + g * 0.85)], ink, g * 0.12)
            y += g * 1.2
        return
    x = x0 + g * 0.3
    base_y = y0 + h * 0.8
    if script in ("arabic", "devanagari"):
        while x < x1 - g:
            length = rng.uniform(1.5, 4) * g
            end = min(x + length, x1 - g * 0.3)
            bar = base_y if script == "arabic" else y0 + h * 0.25
            p.line([(end, bar), (x, bar)], ink, g * 0.12)
            xx = x
            while xx < end:
                if script == "arabic":
                    p.line([(xx, base_y), (xx, base_y - g * rng.uniform(0.2, 0.8))], ink, g * 0.1)
                    if rng.random() < 0.4:
                        p.rect(xx + g * 0.2, base_y + g * 0.15, xx + g * 0.35, base_y + g * 0.3, ink)
                else:
                    p.line([(xx, bar), (xx, bar + g * 0.75)], ink, g * 0.1)
                    if rng.random() < 0.5:
                        p.ellipse(xx - g * 0.25, bar + g * 0.45, g * 0.18, g * 0.18, ink)
                xx += g * rng.uniform(0.4, 0.7)
            x = end + g * 0.6
        return
    while x < x1 - g * 0.5:
        if script == "thai":
            p.ellipse(x, base_y - g * 0.3, g * 0.15, g * 0.15, ink)
            p.line([(x + g * 0.15, base_y - g * 0.3), (x + g * 0.15, base_y - g * 0.7)], ink, g * 0.08)
            x += g * 0.55
        elif script in ("cjk", "hangul"):
            p.rect(x, base_y - g, x + g * 0.8, base_y - g * 0.85, ink)
            p.line([(x + g * 0.4, base_y - g), (x + g * 0.4, base_y)], ink, g * 0.1)
            p.line([(x, base_y - g * 0.4), (x + g * 0.8, base_y - g * 0.4)], ink, g * 0.1)
            x += g * 1.05
        else:  # Latin and Cyrillic: upright strokes and word gaps
            p.line([(x, base_y), (x, base_y - g * rng.choice([0.6, 0.6, 1.0]))], ink, g * 0.12)
            x += g * (0.35 if rng.random() < 0.85 else 0.8)


def draw_sign(p: Painter, c: Conditions, rng: np.random.Generator, x0, y0, x1, y1) -> None:
    script = SCRIPT_OF.get(c.place.cc, "latin")
    if script in ("cjk", "hangul") and rng.random() < 0.5:  # vertical signs hang beside the door
        w = (y1 - y0) * 1.1
        x1, y1 = x0 + w, y0 + w * 3.5
    colour = vary([(200, 40, 40), (240, 240, 236), (40, 60, 140), (30, 30, 30), (230, 200, 40), (40, 120, 70)]
                  [rng.integers(6)], rng, 15)
    p.rect(x0, y0, x1, y1, colour)
    ink = (255, 255, 255) if sum(colour) < 380 else (20, 20, 20)
    draw_glyphs(p, rng, script, x0, y0, x1, y1, ink)
