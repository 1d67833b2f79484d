"""Famous sights in the world generator's photos (data/generate/world.py).

  - landmarks: signature shapes near ~30 famous sights (Eiffel tower, pyramids, Sydney opera, Burj Khalifa...):
    each sight of LANDMARKS (world_geography.py) names its drawing here (its `kind`).
"""
from __future__ import annotations

import math

import numpy as np

from data.generate.world_buildings import draw_house, draw_special, draw_tower, draw_windows
from data.generate.world_conditions import Conditions
from data.generate.world_painting import Painter, mix, shade, vary

# --------------------------------------------------------------------------------------------------- landmarks
def draw_landmark(p: Painter, c: Conditions, rng: np.random.Generator, kind: str, x: float, base: float,
                  h: float) -> None:
    """A famous sight, `h` units tall, centred on x, standing on `base`."""
    u = h / 40  # the drawings below are written for h = 40
    if kind in ("eiffel", "lattice_red"):
        colour = vary((112, 100, 86), rng, 8)
        red, white = (214, 70, 40), (236, 232, 226)
        for side in (-1, 1):
            p.poly([(x + side * 14 * u, base), (x + side * 9 * u, base), (x + side * 1.2 * u, base - 30 * u),
                    (x + side * 2.4 * u, base - 30 * u)], colour if kind == "eiffel" else red)
        p.rect(x - 9 * u, base - 12 * u, x + 9 * u, base - 10.5 * u, colour if kind == "eiffel" else white)
        p.rect(x - 5 * u, base - 22 * u, x + 5 * u, base - 21 * u, colour if kind == "eiffel" else red)
        p.poly([(x - 1.4 * u, base - 30 * u), (x + 1.4 * u, base - 30 * u), (x, base - 40 * u)],
               colour if kind == "eiffel" else white)
    elif kind == "clock_tower":
        stone = vary((196, 176, 126), rng, 8)
        p.rect(x - 3 * u, base - 32 * u, x + 3 * u, base, stone)
        p.rect(x - 3.6 * u, base - 30 * u, x + 3.6 * u, base - 24 * u, shade(stone, 0.95))
        p.ellipse(x, base - 27 * u, 2.3 * u, 2.3 * u, (236, 230, 206))
        p.poly([(x - 3 * u, base - 32 * u), (x + 3 * u, base - 32 * u), (x, base - 40 * u)], (50, 60, 60))
        p.rect(x + 3 * u, base - 9 * u, x + 30 * u, base, stone)
        for k in range(6):
            p.line([(x + (6 + k * 4) * u, base - 9 * u), (x + (6 + k * 4) * u, base - 12 * u)], stone, 0.6 * u)
    elif kind == "skyline":
        for k in range(int(rng.integers(6, 11))):
            tx = x + rng.uniform(-30, 25) * u
            draw_tower(p, c, rng, tx, base, rng.uniform(4, 8) * u, rng.uniform(12, 30) * u)
        draw_tower(p, c, rng, x - 2 * u, base, 6 * u, 34 * u)
        p.poly([(x - 2 * u, base - 34 * u), (x + 4 * u, base - 34 * u), (x + 1 * u, base - 43 * u)], (200, 200, 200))
    elif kind == "colosseum":
        stone = vary((202, 176, 138), rng, 8)
        p.poly([(x - 25 * u, base), (x + 25 * u, base), (x + 25 * u, base - 14 * u), (x - 8 * u, base - 20 * u),
                (x - 25 * u, base - 20 * u)], stone)
        for row in range(3):
            for k in range(12):
                ax = x + (-23 + k * 4) * u
                ay = base - (row + 1) * 6 * u + 1 * u
                if ay > base - 20 * u + (0 if ax < x - 8 * u else (ax - (x - 8 * u)) * 6 / 33):
                    p.rect(ax, ay, ax + 2 * u, ay + 3.5 * u, shade(stone, 0.55))
    elif kind == "onion":
        brick = vary((176, 70, 52), rng, 8)
        p.rect(x - 14 * u, base - 12 * u, x + 14 * u, base, brick)
        for k, colour in enumerate([(60, 140, 80), (220, 180, 60), (200, 50, 50), (60, 100, 180), (240, 200, 80)]):
            cx = x + (k - 2) * 6 * u
            hh = (24 if k == 2 else 16) * u
            p.rect(cx - 1.8 * u, base - hh, cx + 1.8 * u, base - 12 * u, shade(brick, 1.1))
            p.ellipse(cx, base - hh - 2.2 * u, 3 * u, 2.8 * u, colour)
            p.poly([(cx - 1.5 * u, base - hh - 3.8 * u), (cx + 1.5 * u, base - hh - 3.8 * u), (cx, base - hh - 8 * u)],
                   colour)
    elif kind in ("mosque", "taj"):
        white = (244, 242, 238) if kind == "taj" else vary((182, 184, 186), rng, 8)
        p.rect(x - 12 * u, base - 12 * u, x + 12 * u, base, white)
        p.ellipse(x, base - 20 * u, 8 * u, 8 * u, white)
        p.poly([(x - 2 * u, base - 27 * u), (x + 2 * u, base - 27 * u), (x, base - 33 * u)], white)
        for mx in ((-18, 18) if kind == "taj" else (-20, -15, 15, 20)):
            p.rect(x + (mx - 1) * u, base - 30 * u, x + (mx + 1) * u, base, white)
            p.poly([(x + (mx - 1.2) * u, base - 30 * u), (x + (mx + 1.2) * u, base - 30 * u),
                    (x + mx * u, base - 36 * u)],
                   white)
        if kind == "taj":
            p.rect(x - 2.5 * u, base, x + 2.5 * u, 100, vary((90, 140, 170), rng, 10))
    elif kind == "pyramids":
        sand = c.place.sand
        for k, (dx, hh) in enumerate([(-12, 26), (14, 22), (30, 12)]):
            p.poly([(x + (dx - hh) * u, base), (x + (dx + hh) * u, base), (x + dx * u, base - hh * u)],
                   vary(sand, rng, 6))
            p.poly([(x + dx * u, base), (x + (dx + hh) * u, base), (x + dx * u, base - hh * u)], shade(sand, 0.78))
    elif kind == "palace":
        p.rect(x - 28 * u, base - 10 * u, x + 28 * u, base, vary((168, 40, 34), rng, 8))
        for level, w in ((10, 24), (15, 18)):
            p.poly([(x - (w + 4) * u, base - level * u), (x + (w + 4) * u, base - level * u),
                    (x + w * u, base - (level + 5) * u),
                    (x - w * u, base - (level + 5) * u)], vary((226, 176, 46), rng, 8))
        p.rect(x - 18 * u, base - 15 * u, x + 18 * u, base - 10 * u, vary((168, 40, 34), rng, 8))
    elif kind == "opera":
        p.rect(x - 22 * u, base - 4 * u, x + 22 * u, base, (214, 196, 170))
        for k, (dx, hh) in enumerate([(-16, 10), (-8, 14), (2, 16), (12, 12)]):
            p.poly([(x + dx * u, base - 4 * u), (x + (dx + 9) * u, base - 4 * u),
                    (x + (dx + 2) * u, base - (4 + hh) * u)],
                   (244, 242, 236))
        p.rect(0, base, 100, 100, vary((40, 90, 140), rng, 10))
    elif kind == "statue_peak":
        green = mix(c.veg, (40, 80, 40), 0.4)
        p.poly([(x - 35 * u, base), (x - 4 * u, base - 30 * u), (x + 4 * u, base - 30 * u), (x + 35 * u, base)], green)
        p.rect(x - 0.6 * u, base - 36 * u, x + 0.6 * u, base - 30 * u, (236, 236, 230))
        p.rect(x - 3.5 * u, base - 35 * u, x + 3.5 * u, base - 34 * u, (236, 236, 230))
    elif kind == "bridge":
        red = vary((192, 66, 42), rng, 8)
        p.rect(0, base - 2 * u, 100, 100, vary((50, 90, 130), rng, 10))
        p.rect(0, base - 10 * u, 100, base - 8.5 * u, red)
        for tx in (x - 16 * u, x + 16 * u):
            p.rect(tx - 1 * u, base - 36 * u, tx + 1 * u, base - 2 * u, red)
        p.line([(x - 40 * u, base - 12 * u), (x - 16 * u, base - 35 * u), (x, base - 11 * u),
                (x + 16 * u, base - 35 * u), (x + 40 * u, base - 12 * u)], red, 0.4 * u)  # the cables
    elif kind == "needle":
        for k in range(5):
            draw_tower(p, c, rng, x + rng.uniform(-30, 25) * u, base, rng.uniform(4, 7) * u, rng.uniform(8, 18) * u)
        silver = vary((150, 166, 184), rng, 6)
        p.poly([(x - 5 * u, base), (x + 5 * u, base), (x + 2 * u, base - 30 * u), (x, base - 46 * u),
                (x - 2 * u, base - 30 * u)], silver)
        p.poly([(x, base), (x + 5 * u, base), (x + 2 * u, base - 30 * u), (x, base - 46 * u)], shade(silver, 0.8))
    elif kind in ("pod_tower", "pearl"):
        grey = vary((196, 196, 192), rng, 6)
        p.rect(x - 1 * u, base - 34 * u, x + 1 * u, base, grey)
        if kind == "pod_tower":
            p.ellipse(x, base - 27 * u, 5 * u, 2 * u, grey)
        else:
            for y, r in ((base - 10 * u, 4.5 * u), (base - 26 * u, 3.5 * u), (base - 33 * u, 1.5 * u)):
                p.ellipse(x, y, r, r, vary((210, 90, 140), rng, 10))
        p.line([(x, base - 34 * u), (x, base - 42 * u)], grey, 0.3 * u)
    elif kind == "spires":
        stone = vary((206, 188, 150), rng, 8)
        p.rect(x - 14 * u, base - 14 * u, x + 14 * u, base, stone)
        for dx, hh in ((-11, 30), (-6, 34), (6, 34), (11, 30), (0, 40)):
            p.poly([(x + (dx - 2) * u, base - 12 * u), (x + (dx + 2) * u, base - 12 * u), (x + dx * u, base - hh * u)],
                   stone)
    elif kind in ("columns", "columns_hill"):
        stone = vary((220, 206, 176), rng, 8)
        b = base
        if kind == "columns_hill":
            p.poly([(x - 40 * u, base), (x - 20 * u, base - 12 * u), (x + 20 * u, base - 12 * u), (x + 40 * u, base)],
                   vary((160, 140, 110), rng, 8))
            b = base - 12 * u
        p.rect(x - 18 * u, b - 2 * u, x + 18 * u, b, stone)
        for k in range(8):
            cx = x + (-16 + k * 32 / 7) * u
            p.rect(cx - 1 * u, b - 13 * u, cx + 1 * u, b - 2 * u, stone)
        p.rect(x - 18 * u, b - 16 * u, x + 18 * u, b - 13 * u, stone)
        if kind == "columns_hill":
            p.poly([(x - 18 * u, b - 16 * u), (x + 18 * u, b - 16 * u), (x, b - 19 * u)], stone)
        else:
            p.rect(x - 3 * u, b - 20 * u, x + 3 * u, b - 16 * u, (70, 90, 80))
    elif kind == "sands":
        for dx in (-12, 0, 12):
            p.poly([(x + (dx - 3) * u, base), (x + (dx + 3) * u, base), (x + (dx + 2) * u, base - 30 * u),
                    (x + (dx - 3) * u, base - 30 * u)], vary((190, 196, 200), rng, 6))
        p.poly([(x - 20 * u, base - 31 * u), (x + 22 * u, base - 32 * u), (x + 16 * u, base - 30 * u),
                (x - 16 * u, base - 30 * u)], (150, 160, 166))
        p.rect(0, base, 100, 100, vary((50, 90, 110), rng, 10))
    elif kind == "prang":
        stone = vary((216, 206, 190), rng, 8)
        for dx, hh in ((-14, 18), (14, 18), (0, 38)):
            w = 3 if dx else 6
            p.poly([(x + (dx - w) * u, base), (x + (dx + w) * u, base), (x + (dx + w * 0.5) * u, base - hh * 0.7 * u),
                    (x + dx * u, base - hh * u), (x + (dx - w * 0.5) * u, base - hh * 0.7 * u)], stone)
        p.rect(0, base, 100, 100, vary((110, 100, 70), rng, 10))
    elif kind == "twin_towers":
        silver = vary((200, 204, 210), rng, 6)
        for dx in (-6, 6):
            p.rect(x + (dx - 3) * u, base - 32 * u, x + (dx + 3) * u, base, silver)
            p.poly([(x + (dx - 3) * u, base - 32 * u), (x + (dx + 3) * u, base - 32 * u), (x + dx * u, base - 42 * u)],
                   silver)
        p.rect(x - 3 * u, base - 18 * u, x + 3 * u, base - 17 * u, silver)
    elif kind == "obelisk":
        white = vary((234, 232, 226), rng, 6)
        p.poly([(x - 2 * u, base), (x + 2 * u, base), (x + 1.4 * u, base - 36 * u), (x, base - 40 * u),
                (x - 1.4 * u, base - 36 * u)], white)
    elif kind == "leaning":
        white = vary((238, 234, 222), rng, 6)
        lean = 4 * u
        p.poly([(x - 5 * u, base), (x + 5 * u, base), (x + 5 * u + lean, base - 32 * u),
                (x - 5 * u + lean, base - 32 * u)],
               white)
        for k in range(1, 7):
            y = base - k * 4.6 * u
            t = k * 4.6 / 32
            p.line([(x - 5 * u + lean * t, y), (x + 5 * u + lean * t, y)], shade(white, 0.75), 0.5 * u)
    elif kind == "canal":
        p.rect(0, base - 2 * u, 100, 100, vary((60, 90, 90), rng, 12))
        xx = -5.0
        venice = c.place.cc == "IT"
        while xx < 105:
            w = rng.uniform(6, 10) * u
            hh = rng.uniform(16, 26) * u
            wall = vary([(236, 190, 140), (226, 150, 120), (240, 220, 170)][rng.integers(3)] if venice else
                        [(120, 58, 44), (96, 50, 40), (60, 50, 46)][rng.integers(3)], rng, 10)
            p.rect(xx, base - 2 * u - hh, xx + w, base - 2 * u, wall)
            if not venice:
                p.poly([(xx, base - 2 * u - hh), (xx + w, base - 2 * u - hh),
                        (xx + w / 2, base - 2 * u - hh - w * 0.8)],
                       wall)
            draw_windows(p, c, rng, xx, base - 2 * u, w, int(hh / (4 * u)), 4 * u, u, door=False)
            xx += w + 0.3 * u
        for _ in range(int(rng.integers(0, 3))):
            bx = rng.uniform(0, 80)
            p.poly([(bx, base + 4 * u), (bx + 14 * u, base + 4 * u), (bx + 12 * u, base + 6 * u),
                    (bx + 2 * u, base + 6 * u)],
                   vary((40, 30, 30) if venice else (60, 60, 70), rng, 10))
    elif kind == "torii":
        for k in range(6):
            s = (1.0 - k * 0.14) * u * 2.2
            draw_special(p, c, rng, "torii", x + k * 2 * u, base - k * 3 * u, s)
    elif kind == "table_mountain":
        p.poly([(x - 45 * u, base), (x - 25 * u, base - 22 * u), (x + 22 * u, base - 23 * u), (x + 40 * u, base)],
               mix((110, 116, 124), c.haze, 0.3))
        for k in range(10):
            draw_house(p, c, rng, x - 40 * u + k * 8 * u, base + 3 * u, 6 * u, int(rng.integers(1, 4)), 0.5 * u)
    elif kind == "arch":
        points = [(x + 22 * u * math.cos(t), base - 40 * u * math.sin(t)) for t in np.linspace(0, math.pi, 17)]
        p.line(points, (206, 210, 216), 1.6 * u)
