"""Street furniture in the world generator's photos (data/generate/world.py): the region's vehicles (VEHICLES),
people, utility poles with overhead wires, a flag (FLAGS, world_styles.py) and roads with the style's centre-line
colour, across the picture or running away to the horizon.
"""
from __future__ import annotations

import numpy as np

from data.generate.world_buildings import glass_colour
from data.generate.world_conditions import Conditions
from data.generate.world_painting import Painter, choose, mix, vary
from data.generate.world_styles import FLAGS, stable_hash


VEHICLES = {
    "north_america": {"car": 2, "pickup": 2, "bus": 0.2},
    "south_asia": {"rickshaw": 3, "car": 1, "scooter": 2, "bus": 0.5},
    "se_asia": {"scooter": 4, "car": 1, "rickshaw": 0.5},
    "east_asia": {"car": 3, "scooter": 1},
    "subsaharan": {"minibus": 2, "car": 1, "scooter": 0.5},
    "latin": {"car": 2, "minibus": 0.5, "pickup": 0.6},
    "mena": {"car": 3, "pickup": 1},
    "oceania": {"car": 2, "pickup": 1.5},
}


def draw_vehicle(p: Painter, c: Conditions, rng: np.random.Generator, x: float, base: float, s: float) -> None:
    kind = choose(rng, VEHICLES.get(c.place.style, {"car": 3, "bus": 0.2}))
    body = vary([(236, 236, 236), (170, 172, 176), (30, 30, 34), (170, 30, 30), (40, 70, 140), (120, 120, 120)]
                [rng.integers(6)], rng, 12)
    if c.place.cc == "GB" and rng.random() < 0.2:
        kind, body = "bus", (200, 30, 30)
    if kind == "bus" and c.place.style == "north_america":
        body = (240, 190, 20)  # school bus
    wheel = (24, 24, 26)
    if kind in ("car", "pickup"):
        length = (11 if kind == "pickup" else 9) * s
        p.rect(x, base - 3 * s, x + length, base - 0.8 * s, body)
        cab = (x + 1.5 * s, x + 6.5 * s) if kind == "car" else (x + 1 * s, x + 4.5 * s)
        p.poly([(cab[0], base - 3 * s), (cab[1], base - 3 * s), (cab[1] - 1 * s, base - 5 * s),
                (cab[0] + 1 * s, base - 5 * s)], body)
        p.poly([(cab[0] + 0.5 * s, base - 3.2 * s), (cab[1] - 0.5 * s, base - 3.2 * s),
                (cab[1] - 1.2 * s, base - 4.6 * s),
                (cab[0] + 1.2 * s, base - 4.6 * s)], glass_colour(c, rng))
        for wx in (x + 2 * s, x + length - 2 * s):
            p.ellipse(wx, base - 0.8 * s, 1.1 * s, 1.1 * s, wheel)
    elif kind in ("bus", "minibus"):
        length = (18 if kind == "bus" else 10) * s
        height = (7 if kind == "bus" else 5) * s
        if kind == "minibus":
            body = vary([(236, 236, 232), (230, 200, 40), (60, 120, 180)][rng.integers(3)], rng, 10)
        p.rect(x, base - height, x + length, base - 0.8 * s, body)
        for k in range(int(length / (2.5 * s))):
            p.rect(x + (0.6 + k * 2.5) * s, base - height + 0.8 * s, x + (2.4 + k * 2.5) * s, base - height * 0.5,
                   glass_colour(c, rng))
        for wx in (x + 2.5 * s, x + length - 2.5 * s):
            p.ellipse(wx, base - 0.8 * s, 1.2 * s, 1.2 * s, wheel)
    elif kind == "rickshaw":
        body = vary([(230, 200, 30), (40, 140, 60), (30, 30, 30)][rng.integers(3)], rng, 10)
        p.poly([(x, base - 1 * s), (x + 6 * s, base - 1 * s), (x + 6 * s, base - 5 * s), (x + 1.5 * s, base - 5.5 * s)],
               body)
        p.rect(x + 2 * s, base - 4.5 * s, x + 5 * s, base - 2.5 * s, (30, 30, 30))
        for wx in (x + 1 * s, x + 5 * s):
            p.ellipse(wx, base - 0.8 * s, 0.8 * s, 0.8 * s, wheel)
    else:  # scooter with rider
        p.ellipse(x, base - 0.7 * s, 0.7 * s, 0.7 * s, wheel)
        p.ellipse(x + 3 * s, base - 0.7 * s, 0.7 * s, 0.7 * s, wheel)
        p.rect(x + 0.5 * s, base - 2 * s, x + 2.8 * s, base - 1 * s, body)
        draw_person(p, rng, x + 1.5 * s, base - 1.5 * s, 0.7 * s)


def draw_person(p: Painter, rng: np.random.Generator, x: float, base: float, s: float) -> None:
    clothes = vary([(30, 30, 40), (200, 60, 50), (60, 90, 160), (230, 230, 226), (120, 110, 90), (220, 180, 60)]
                   [rng.integers(6)], rng, 20)
    skin = vary([(240, 200, 170), (200, 150, 110), (140, 95, 65), (90, 60, 45)][rng.integers(4)], rng, 10)
    p.rect(x - 0.5 * s, base - 3 * s, x + 0.5 * s, base, vary((50, 50, 60), rng, 15))
    p.rect(x - 0.8 * s, base - 6 * s, x + 0.8 * s, base - 2.8 * s, clothes)
    p.ellipse(x, base - 7 * s, 0.75 * s, 0.85 * s, skin)


def draw_poles(p: Painter, c: Conditions, rng: np.random.Generator, base: float, s: float) -> None:
    """Utility poles with sagging overhead wires (many and tangled in South Asia)."""
    wooden = c.place.style in ("north_america", "latin", "oceania") or c.place.cc == "JP"
    colour = vary((100, 80, 60) if wooden else (150, 150, 146), rng, 10)
    xs = np.arange(rng.uniform(-10, 20), 110, rng.uniform(28, 50)).tolist()
    top = base - 30 * s
    for x in xs:
        p.rect(x - 0.5 * s, top, x + 0.5 * s, base, colour)
        p.rect(x - 3 * s, top + 1.5 * s, x + 3 * s, top + 2.2 * s, colour)
        if wooden and rng.random() < 0.5:
            p.rect(x + 0.8 * s, top + 4 * s, x + 2.4 * s, top + 7 * s, (110, 112, 116))  # transformer
    wires = int(rng.integers(2, 4)) + (int(rng.integers(3, 9)) if c.place.style == "south_asia" else 0)
    ink = (30, 30, 30) if not c.night else (60, 60, 60)
    for k in range(wires):
        y = top + rng.uniform(1, 6) * s
        sag = rng.uniform(1, 4) * s
        points = []
        for a, b in zip([-20.0] + xs, xs + [120.0]):
            points += [(a, y), ((a + b) / 2, y + sag), (b, y)]
        p.line(points, ink, 0.2)


def draw_flag(p: Painter, c: Conditions, rng: np.random.Generator, x: float, base: float, s: float) -> None:
    cc = c.place.cc
    layout, colours = FLAGS.get(cc) or ("hv"[stable_hash(cc) % 2], [
        tuple((stable_hash(cc, str(k)) >> shift) % 256 for shift in (3, 11, 19))
        for k in range(3)])
    top, h, w = base - 20 * s, 4 * s, 6 * s
    p.line([(x, base), (x, top - 0.5 * s)], (200, 200, 200), 0.3 * s)
    x0 = x + 0.2 * s
    if layout in ("v", "h"):
        n = len(colours)
        for k, colour in enumerate(colours):
            if layout == "v":
                p.rect(x0 + k * w / n, top, x0 + (k + 1) * w / n, top + h, colour)
            else:
                p.rect(x0, top + k * h / n, x0 + w, top + (k + 1) * h / n, colour)
    elif layout == "nordic":
        p.rect(x0, top, x0 + w, top + h, colours[0])
        p.rect(x0 + w * 0.3, top, x0 + w * 0.42, top + h, colours[1])
        p.rect(x0, top + h * 0.42, x0 + w, top + h * 0.58, colours[1])
    elif layout == "cross":
        p.rect(x0, top, x0 + w, top + h, colours[0])
        p.rect(x0 + w * 0.42, top, x0 + w * 0.58, top + h, colours[1])
        p.rect(x0, top + h * 0.4, x0 + w, top + h * 0.6, colours[1])
    elif layout == "disc":
        p.rect(x0, top, x0 + w, top + h, colours[0])
        p.ellipse(x0 + w / 2, top + h / 2, h * 0.28, h * 0.28, colours[1])
    else:  # stripes with a canton
        for k in range(7):
            p.rect(x0, top + k * h / 7, x0 + w, top + (k + 1) * h / 7, colours[k % 2])
        p.rect(x0, top, x0 + w * 0.4, top + h * 0.55, colours[2])


def draw_road_band(p: Painter, c: Conditions, rng: np.random.Generator, y0: float, y1: float, paved: bool) -> None:
    """A road across the picture (seen from the side of the street) with its centre line."""
    colour = vary((78, 80, 84), rng, 10) if paved else c.soil
    if c.snow:
        colour = mix(colour, (200, 204, 210), 0.5)
    p.rect(0, y0, 100, y1, colour)
    if paved:
        line = c.look["line"]
        y = (y0 + y1) / 2
        double = c.look["line"] != (235, 235, 235) and rng.random() < 0.5
        for x in np.arange(rng.uniform(-8, 0), 100, 8.0 if not double else 200).tolist():
            p.rect(x, y - 0.3, x + (4 if not double else 200), y + 0.3, line)
        if double:
            p.rect(0, y + 0.8, 100, y + 1.4, line)


def draw_road_perspective(p: Painter, c: Conditions, rng: np.random.Generator, paved: bool) -> None:
    """A road running away to the horizon (centre line, shoulders)."""
    vx = rng.uniform(25, 75)
    half = rng.uniform(25, 55) * (1.4 if c.look.get("wide") else 1.0)
    colour = vary((82, 84, 88), rng, 10) if paved else c.soil
    if c.snow:
        colour = mix(colour, (210, 214, 220), 0.6)
    h = c.horizon + 0.2
    bottom_x = vx + rng.uniform(-20, 20)
    p.poly([(vx - 0.6, h), (vx + 0.6, h), (bottom_x + half, 100), (bottom_x - half, 100)], colour)
    if paved:
        line = c.look["line"]
        for k in range(8):
            t0, t1 = (k / 8) ** 1.8, ((k + 0.45) / 8) ** 1.8
            a = (vx + (bottom_x - vx) * t0, h + (100 - h) * t0)
            b = (vx + (bottom_x - vx) * t1, h + (100 - h) * t1)
            p.poly([(a[0] - 0.1 - 0.8 * t0, a[1]), (a[0] + 0.1 + 0.8 * t0, a[1]), (b[0] + 0.1 + 0.8 * t1, b[1]),
                    (b[0] - 0.1 - 0.8 * t1, b[1])], line)
