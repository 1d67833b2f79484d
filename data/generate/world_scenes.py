"""What a photo of the world generator (data/generate/world.py) shows, and the photo itself: the scene the place
calls for, drawn with the other world_* modules, then the air, the weather, tilt, crop and the camera.

What it shows (the place decides the content; everything else is noise; the climate, the sky and light are drawn in
world_conditions.py, the culture in world_styles.py, the landmarks in world_landmarks.py):
  - coast: where the land mask shows sea within ~6 km, the sea is often visible (horizon, beach, boats);
  - density: a street scene in cities, houses and trees in towns, a view over the rooftops from a hill or a tower
    in towns and cities, farmsteads and open land in the countryside, coast scenes;
  - the air of the region (AIR, world_conditions.py): a veil over the view, strongest at the horizon;
  - noise: random crop and tilt of the horizon, time of day (a few evening and night photos), weather (fog, rain,
    snow), exposure, contrast, saturation, colour cast, vignette, blur, clutter (people, cars, poles), a few
    close-ups that show almost nothing of the place (3 %), sensor noise and JPEG (written by world.py).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from data.generate.world_buildings import (draw_block, draw_house, draw_roof_above, draw_sign, draw_special,
                                           draw_tower, glass_colour, wall_colour)
from data.generate.world_conditions import Conditions, conditions
from data.generate.world_geography import LANDMARKS, Place, smooth
from data.generate.world_landmarks import draw_landmark
from data.generate.world_landscape import draw_fields, draw_ground, draw_mountains, draw_sky, draw_trees, ridge
from data.generate.world_painting import Painter, choose, mix, shade, vary
from data.generate.world_street import (draw_flag, draw_person, draw_poles, draw_road_band, draw_road_perspective,
                                        draw_vehicle)

SUPERSAMPLE = 2


# ------------------------------------------------------------------------------------------------------ scenes
def building_row(p: Painter, c: Conditions, rng: np.random.Generator, base: float, s: float, density: float,
                 sign: float = 0.0) -> None:
    """Buildings left to right along a ground line: houses, panel blocks, towers, a special building."""
    look, place = c.look, c.place
    x = -rng.uniform(0, 12)
    specials = look.get("special", {})
    narrow = look.get("narrow", False)
    while x < 100:
        r = rng.random()
        if r < look.get("towers", 0) * place.urban * 0.5:
            w = rng.uniform(8, 15) * s
            draw_tower(p, c, rng, x, base, w, rng.uniform(30, 70) * s)
        elif r < (look.get("towers", 0) * 0.5 + look.get("blocks", 0) * 0.6) * place.urban:
            w = rng.uniform(25, 50) * s
            draw_block(p, c, rng, x, base, w, int(rng.integers(5, 13)), s)
        elif specials and r > 1 - 0.08 - 0.1 * (1 - density):
            draw_special(p, c, rng, choose(rng, specials), x + 2 * s, base, s * rng.uniform(0.8, 1.2))
            w = 20 * s
        else:
            lo, hi = look["storeys"]
            floors = int(rng.integers(lo, hi + 1))
            floors = max(1, round(floors * (0.5 + place.urban * 0.7)))
            w = (rng.uniform(7, 11) if narrow else rng.uniform(12, 26)) * s
            draw_house(p, c, rng, x, base, w, floors, s, sign)
        gap = 0.0 if rng.random() < density else rng.uniform(2, 14) * s
        if gap > 5 * s and rng.random() < 0.6:
            draw_trees(p, c, rng, 1, base - 0.5, base)
        x += w + gap


def far_skyline(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    colour = mix(c.haze, (90, 96, 110), 0.35)
    for _ in range(int(rng.integers(3, 12))):
        x = rng.uniform(-5, 100)
        draw_tower(p, c, rng, x, c.horizon + 1, rng.uniform(2, 6), rng.uniform(6, 25) * (0.5 + c.look.get("towers", 0)),
                   silhouette=vary(colour, rng, 6))


# What lies on the near side of a street, per style: front lawns in North America and Australia, bare red earth in
# Africa, dust in South Asia, sand in the Middle East (ground or soil colour, and how much of it shows).
STREET_VERGE = {
    "north_america": ("ground", 0.85), "oceania": ("ground", 0.75), "subsaharan": ("soil", 0.85),
    "latin": ("soil", 0.5), "south_asia": ("soil", 0.6), "mena": ("ground", 0.7), "se_asia": ("soil", 0.45),
    "east_asia": ("soil", 0.15), "post_soviet": ("ground", 0.35), "nordic": ("ground", 0.35),
}


def scene_street(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    draw_sky(p, c, rng)
    if c.place.mountain > 0.3:
        draw_mountains(p, c, rng, far_only=True)
    if rng.random() < c.look.get("towers", 0) * c.place.urban * 1.5:
        far_skyline(p, c, rng)
    draw_ground(p, c, rng, c.horizon, colour=mix(c.ground, (150, 150, 148), 0.6), patches=4)
    base = c.horizon + rng.uniform(10, 22)
    s = rng.uniform(1.0, 1.8)
    building_row(p, c, rng, base, s, density=0.85, sign=0.45)
    paved = rng.random() > c.look.get("unpaved", 0.1) * 0.4
    p.rect(0, base, 100, base + 3 * s, vary((170, 168, 162), rng, 8) if paved else c.soil)
    road = min(base + 3 * s + rng.uniform(9, 17) * s, 99.0)
    draw_road_band(p, c, rng, base + 3 * s, road, paved)
    verge, amount = STREET_VERGE.get(c.place.style, ("soil", 0.1))  # this side: lawn, dust, sand or pavement
    near = mix((165, 163, 158), c.ground if verge == "ground" else c.soil, amount * rng.uniform(0.6, 1.2))
    p.rect(0, road, 100, 100, vary(near, rng, 8) if paved else c.soil)
    if paved and amount > 0.3:
        p.rect(0, road, 100, road + 1.5 * s, vary((170, 168, 162), rng, 8))  # the kerb and a strip of pavement
    for _ in range(int(rng.integers(0, 5))):
        draw_vehicle(p, c, rng, rng.uniform(-5, 95), base + 3 * s + rng.uniform(0.45, 0.95) * (road - base - 3 * s),
                     s * 1.3)
    for _ in range(int(rng.integers(0, 6))):
        draw_person(p, rng, rng.uniform(0, 100), base + rng.uniform(0.5, 3) * s, s * 1.1)
    if rng.random() < c.look.get("wires", 0.1):
        draw_poles(p, c, rng, road + 2, 1.2)
    if rng.random() < 0.35:
        draw_trees(p, c, rng, int(rng.integers(1, 3)), road + 1, min(road + 12, 100), 1.2)
    if rng.random() < 0.15:
        draw_flag(p, c, rng, rng.uniform(10, 90), base, s * 1.5)


def scene_town(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    draw_sky(p, c, rng)
    draw_mountains(p, c, rng)
    draw_ground(p, c, rng, c.horizon)
    draw_trees(p, c, rng, int(rng.integers(2, 8)), c.horizon + 0.5, c.horizon + 6, 0.8)
    base = c.horizon + rng.uniform(8, 20)
    s = rng.uniform(0.8, 1.4)
    building_row(p, c, rng, base, s, density=0.3 + 0.4 * c.place.urban, sign=0.15)
    if rng.random() < 0.5:
        y0 = base + rng.uniform(2, 6)
        draw_road_band(p, c, rng, y0, y0 + rng.uniform(8, 16), rng.random() > c.look.get("unpaved", 0.1))
        if rng.random() < 0.6:
            draw_vehicle(p, c, rng, rng.uniform(0, 85), y0 + rng.uniform(4, 8), s * 1.3)
    else:
        if rng.random() < 0.4:  # a fence
            y = base + rng.uniform(4, 10)
            colour = vary([(240, 240, 236), (120, 90, 60), (110, 110, 110)][rng.integers(3)], rng, 10)
            p.rect(0, y - 3, 100, y - 2.5, colour)
            for x in np.arange(rng.uniform(0, 3), 100, 3.0).tolist():
                p.rect(x, y - 4, x + 0.6, y, colour)
    if rng.random() < c.look.get("wires", 0.1):
        draw_poles(p, c, rng, min(base + 20, 99), 1.0)
    draw_trees(p, c, rng, int(rng.integers(0, 4)), base + 5, 100, 1.0)
    for _ in range(int(rng.integers(0, 3))):
        draw_person(p, rng, rng.uniform(0, 100), base + rng.uniform(2, 12), 1.2)
    if rng.random() < 0.08:
        draw_flag(p, c, rng, rng.uniform(10, 90), base, s * 1.5)


RURAL_SPECIALS = ("turbine", "windmill", "huts", "ger", "silo", "water_tower", "palm_fort", "stupa", "spire",
                  "white_church", "onion", "mosque", "campanile", "cypress_row", "shikhara", "pagoda")


def scene_rural(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    draw_sky(p, c, rng)
    draw_mountains(p, c, rng)
    draw_ground(p, c, rng, c.horizon)
    if rng.random() < 0.5:
        draw_fields(p, c, rng)
    if c.place.aridity > 0.75 and not c.snow and rng.random() < 0.5:  # dunes
        for _ in range(int(rng.integers(2, 6))):
            y = rng.uniform(c.horizon + 2, 95)
            p.dome(rng.uniform(0, 100), y, rng.uniform(10, 40), rng.uniform(1, 4),
                   shade(c.ground, rng.uniform(0.85, 1.1)))
    specials = c.look.get("special", {})
    rural_kinds = {k: v for k, v in specials.items() if k in RURAL_SPECIALS}
    base = c.horizon + rng.uniform(2, 10)
    if rng.random() < 0.7:
        if rural_kinds and rng.random() < 0.3:
            draw_special(p, c, rng, choose(rng, rural_kinds), rng.uniform(5, 70), base, rng.uniform(0.3, 0.6))
        else:
            hi = c.look["storeys"][1]
            for _ in range(int(rng.integers(1, 4))):
                s = rng.uniform(0.5, 0.9)
                draw_house(p, c, rng, rng.uniform(-5, 85), base + rng.uniform(0, 8), rng.uniform(10, 20) * s,
                           int(rng.integers(1, min(hi, 3) + 1)), s)
    if rng.random() < 0.45:
        paved = rng.random() > c.look.get("unpaved", 0.1) * 1.5
        draw_road_perspective(p, c, rng, paved)
    crowded = 1 - smooth(c.place.aridity, 0.5, 0.9)
    draw_trees(p, c, rng, int(rng.integers(1, 4 + int(14 * crowded))), c.horizon + 0.5, 100)
    if rng.random() < 0.3 * c.look.get("wires", 0.1) + 0.1:
        draw_poles(p, c, rng, rng.uniform(75, 100), 1.2)


def scene_rooftops(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    """The view over the town from a hill, a tower or a balcony: rows of roofs and upper walls down to the
    bottom of the picture, the region's roofing and wall colours filling most of the frame."""
    draw_sky(p, c, rng)
    draw_mountains(p, c, rng, far_only=True)
    if rng.random() < c.look.get("towers", 0) * c.place.urban * 1.2:
        far_skyline(p, c, rng)
    draw_ground(p, c, rng, c.horizon, patches=4)
    specials = c.look.get("special", {})
    y, s = c.horizon + rng.uniform(0.5, 2.5), rng.uniform(0.3, 0.45)
    while y < 112:
        x = -rng.uniform(0, 10) * s
        while x < 100:
            w = rng.uniform(9, 20) * s * (0.7 if c.look.get("narrow") else 1.0)
            base = y + rng.uniform(-0.8, 0.8) * s
            if specials and rng.random() < 0.03:
                draw_special(p, c, rng, choose(rng, specials), x, base, s * 0.9)
                x += 18 * s
                continue
            if rng.random() < 0.1:
                draw_trees(p, c, rng, 1, base - 0.5, base, 0.8)
                x += w * 0.5
                continue
            floors = int(rng.integers(1, 3))
            top = base - floors * 4.0 * s
            wall = wall_colour(c, rng)
            p.rect(x, top, x + w, base, wall)
            window = glass_colour(c, rng) if c.night else shade(wall, 0.55)
            for f in range(floors if s > 0.3 else 0):  # a row of windows per floor
                wy = top + (f + 0.3) * 4.0 * s
                for k in range(max(1, int(w / (4 * s)))):
                    wx = x + (k + 0.35) * 4 * s
                    p.rect(wx, wy, wx + 1.5 * s, wy + 2 * s, window)
            draw_roof_above(p, c, rng, x, top, w, s)
            x += w + (0 if rng.random() < 0.7 else rng.uniform(0.5, 4) * s)
        s *= rng.uniform(1.25, 1.45)
        y += rng.uniform(4.5, 6.5) * s


def scene_coast(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    draw_sky(p, c, rng)
    t = c.place.temperature
    sea = mix((28, 62, 96), (40, 170, 180), smooth(t, 0.7, 0.95))
    sea = vary(mix(sea, c.sky_bottom, 0.25 if c.weather == "clear" else 0.5), rng, 10)
    if c.night:
        sea = shade(sea, 0.3)
    shore = min(c.horizon + rng.uniform(10, 35), 88)
    p.rect(0, c.horizon, 100, shore, sea)
    if rng.random() < 0.4:  # the far side of a bay
        p.poly(ridge(rng, c.horizon + 0.5, rng.uniform(2, 8)) + [(105, c.horizon + 1), (-5, c.horizon + 1)],
               mix(c.veg, c.haze, 0.6))
    for _ in range(int(rng.integers(3, 12))):
        y = rng.uniform(c.horizon + 1, shore)
        x = rng.uniform(0, 100)
        p.line([(x, y), (x + rng.uniform(3, 10), y)], mix(sea, (240, 245, 250), 0.5), 0.3)
    for _ in range(int(rng.integers(0, 3))):
        x, y = rng.uniform(0, 90), rng.uniform(c.horizon + 1, shore - 1)
        s = 0.3 + (y - c.horizon) / 40
        p.poly([(x, y), (x + 8 * s, y), (x + 7 * s, y + 1.5 * s), (x + 1 * s, y + 1.5 * s)],
               vary((236, 236, 236), rng, 10))
        p.line([(x + 4 * s, y), (x + 4 * s, y - 7 * s)], (200, 200, 200), 0.2)
    kind = rng.random()
    if kind < 0.5 and not c.snow:  # a beach
        sand = (236, 226, 196) if t > 0.75 else mix(c.place.sand, (160, 150, 130), 0.4)
        p.rect(0, shore, 100, 100, vary(sand, rng, 8))
        p.line([(0, shore), (100, shore)], (245, 248, 250), 0.6)
        for _ in range(int(rng.integers(0, 6))):
            draw_person(p, rng, rng.uniform(0, 100), rng.uniform(shore + 3, 98), 1.3)
    elif kind < 0.75:  # rocks and land
        draw_ground(p, c, rng, shore)
        for _ in range(int(rng.integers(2, 6))):
            p.ellipse(rng.uniform(0, 100), shore, rng.uniform(2, 8), rng.uniform(1, 3), vary((100, 96, 90), rng, 10))
    else:  # a promenade with the town behind the viewer's side
        p.rect(0, shore, 100, 100, vary((176, 172, 164), rng, 8))
        p.rect(0, shore, 100, shore + 1, (120, 120, 120))
        for _ in range(int(rng.integers(0, 5))):
            draw_person(p, rng, rng.uniform(0, 100), rng.uniform(shore + 4, 98), 1.5)
    if c.place.urban > 0.3 and rng.random() < 0.7:  # the town along the far shore
        x = rng.uniform(-10, 50)
        for _ in range(int(rng.integers(3, 10))):
            w = rng.uniform(2, 5)
            if rng.random() < c.look.get("towers", 0) * c.place.urban:
                draw_tower(p, c, rng, x, c.horizon + 0.8, w, rng.uniform(6, 18))
            else:
                draw_house(p, c, rng, x, c.horizon + 0.8, w, int(rng.integers(1, 4)), 0.3)
            x += w + rng.uniform(0, 2)
    draw_trees(p, c, rng, int(rng.integers(0, 3)), shore + 2, 100, 1.2)


def scene_landmark(p: Painter, c: Conditions, rng: np.random.Generator, landmark: int) -> None:
    draw_sky(p, c, rng)
    kind = LANDMARKS[landmark][3]
    draw_ground(p, c, rng, c.horizon, colour=c.ground if kind in ("pyramids", "statue_peak", "table_mountain")
                else mix(c.ground, (160, 158, 152), 0.5), patches=6)
    if kind not in ("pyramids", "statue_peak", "bridge", "opera", "canal", "table_mountain") and rng.random() < 0.6:
        far_skyline(p, c, rng) if c.look.get("towers", 0) > 0.3 else building_row(
            p, c, rng, c.horizon + 2, 0.35, density=0.8)
    base = c.horizon + rng.uniform(3, 16)
    h = rng.uniform(32, 60) * (1 - 0.3 * (c.horizon - 36) / 26)
    draw_landmark(p, c, rng, kind, rng.uniform(30, 70), base, h)
    front = base + 4
    if kind in ("opera", "bridge", "sands", "canal", "taj"):  # seen from a quay across the water
        front = rng.uniform(86, 93)
        p.rect(0, front, 100, 100, vary((168, 164, 156), rng, 10))
        p.rect(0, front, 100, front + 0.8, (110, 110, 110))
        front += 3
    for _ in range(int(rng.integers(0, 8))):  # tourists
        draw_person(p, rng, rng.uniform(0, 100), rng.uniform(front, 100), rng.uniform(1.2, 2.2))
    if rng.random() < 0.3 and front == base + 4:
        draw_trees(p, c, rng, int(rng.integers(1, 3)), front, 100, 1.0)


def scene_closeup(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    """Food, a face, a wall with a sign, a room: little of the place shows (a sign's script, the light)."""
    kind = rng.integers(4)
    if kind == 0:  # a plate on a table
        p.rect(0, 0, 100, 100, vary((120, 90, 60) if rng.random() < 0.5 else (220, 220, 214), rng, 25))
        p.ellipse(50 + rng.uniform(-10, 10), 55 + rng.uniform(-10, 10), 38, 30, (242, 242, 238))
        for _ in range(int(rng.integers(3, 9))):
            p.ellipse(rng.uniform(30, 70), rng.uniform(40, 70), rng.uniform(3, 10), rng.uniform(2, 7),
                      vary([(200, 60, 40), (90, 140, 50), (220, 180, 90), (120, 70, 40),
                            (240, 230, 200)][rng.integers(5)],
                           rng, 20))
    elif kind == 1:  # someone's portrait
        p.rect(0, 0, 100, 100, vary(c.sky_bottom if rng.random() < 0.5 else wall_colour(c, rng), rng, 20))
        draw_person(p, rng, 50 + rng.uniform(-15, 15), 160, 14)
    elif kind == 2:  # a wall with a sign
        p.rect(0, 0, 100, 100, wall_colour(c, rng))
        x0, y0 = rng.uniform(5, 30), rng.uniform(10, 50)
        draw_sign(p, c, rng, x0, y0, x0 + rng.uniform(40, 65), y0 + rng.uniform(12, 22))
    else:  # a room with a window
        p.rect(0, 0, 100, 100, vary((210, 200, 185), rng, 30))
        x0, y0 = rng.uniform(10, 50), rng.uniform(10, 30)
        p.rect(x0, y0, x0 + 35, y0 + 35, c.sky_bottom)
        p.rect(x0, y0 + 22, x0 + 35, y0 + 35, c.ground)
        p.rect(0, 75, 100, 100, vary((120, 90, 60), rng, 25))


# -------------------------------------------------------------------------------------------------- rendering
def render(place: Place, rng: np.random.Generator, params: dict) -> Image.Image:
    """One photo of this place: a scene drawn at 1.25 x size with supersampling, then cropped and finished."""
    size = params["image_size"]
    side = round(size * 1.25) * SUPERSAMPLE
    c = conditions(place, rng)
    p = Painter(side)
    landmark_visible = place.landmark >= 0 and (place.kind == "landmark" or rng.random() < 0.12)
    if rng.random() < params["closeup_share"]:
        scene_closeup(p, c, rng)
    elif landmark_visible:
        scene_landmark(p, c, rng, place.landmark)
    elif place.sea > 0 and rng.random() < 0.25 + 0.5 * place.sea:
        scene_coast(p, c, rng)
    else:
        r = rng.random()
        if place.urban > 0.15 and rng.random() < 0.45:
            scene_rooftops(p, c, rng)
        elif r < place.urban ** 1.5 * 0.9:
            scene_street(p, c, rng)
        elif r < place.urban ** 0.6:
            scene_town(p, c, rng)
        else:
            scene_rural(p, c, rng)
    if c.air_amount > 0.01:  # the veil of smog, dust or damp air, strongest at the horizon
        y = (np.arange(side, dtype=np.float32) + 0.5) / p.k
        veil = c.air_amount * (0.45 + 0.55 * np.exp(-((y - c.horizon) / 16) ** 2))[:, None, None]
        pixels = np.asarray(p.image, dtype=np.float32)
        pixels = pixels * (1 - veil) + np.array(c.air, np.float32) * veil
        p.image = Image.fromarray(pixels.astype(np.uint8))
        p.draw = ImageDraw.Draw(p.image)
    image = p.image
    weather(p, c, rng)
    angle = float(np.clip(rng.normal(0, 2.0), -5, 5))
    if abs(angle) > 0.5:
        image = image.rotate(angle, Image.BILINEAR)
    crop = rng.uniform(0.68, 0.86) * side
    x0, y0 = rng.uniform(0.07 * side, side - crop - 0.07 * side, 2)
    image = image.resize((size, size), Image.BOX, box=(x0, y0, x0 + crop, y0 + crop))
    return finish(image, c, rng)


def weather(p: Painter, c: Conditions, rng: np.random.Generator) -> None:
    """Rain streaks, falling snow, street lights at night (drawn on the canvas)."""
    if c.weather == "rain":
        colour = (190, 196, 204)
        slant = rng.uniform(-1.5, 1.5)
        for _ in range(int(rng.integers(30, 90))):
            x, y = rng.uniform(-5, 105), rng.uniform(0, 100)
            p.line([(x, y), (x + slant, y + 4)], colour, 0.15)
    elif c.weather == "snow":
        for _ in range(int(rng.integers(40, 140))):
            x, y = rng.uniform(0, 100), rng.uniform(0, 100)
            r = rng.uniform(0.2, 0.6)
            p.ellipse(x, y, r, r, (245, 246, 250))
    if c.night and c.place.urban > 0.2:
        for _ in range(int(rng.integers(0, 6))):
            x, y = rng.uniform(0, 100), rng.uniform(c.horizon, 90)
            p.ellipse(x, y, 1.5, 1.5, (255, 220, 150))


def finish(image: Image.Image, c: Conditions, rng: np.random.Generator) -> Image.Image:
    """Light (sun elevation, night), fog, exposure, contrast, saturation, colour cast, vignette, blur, noise."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    if c.weather == "fog":
        fog = np.linspace(rng.uniform(0.4, 0.8), rng.uniform(0.15, 0.5), h, dtype=np.float32)[:, None, None]
        pixels = pixels * (1 - fog) + np.float32(200) * fog
    if c.night:
        pixels = pixels * np.float32(rng.uniform(0.3, 0.55)) * np.array([1.0, 0.95, 1.05], np.float32)
    elif c.weather in ("overcast", "rain"):
        pixels = pixels * np.float32(rng.uniform(0.8, 0.95))
    else:  # sunlight: golden and dimmer when the sun is low (high latitudes), harsh and bleached when overhead
        warm = 1 - smooth(c.sun, -4, 40)
        glare = smooth(c.sun, 50, 85)
        pixels = pixels * np.array([1.0, 1 - 0.13 * warm, 1 - 0.32 * warm], np.float32) * np.float32(1 - 0.28 * warm)
        pixels = pixels * np.float32(1 - 0.22 * glare) + np.float32(0.22 * glare * 250)
    grey = pixels.mean(axis=2, keepdims=True)
    pixels = grey + (pixels - grey) * np.float32(rng.uniform(0.75, 1.25))                   # saturation
    pixels = (pixels - 128) * np.float32(rng.uniform(0.8, 1.15)) + np.float32(128 + rng.uniform(-12, 12))
    pixels = pixels * rng.normal(1, 0.02, 3).astype(np.float32)                              # white balance
    yy, xx = np.mgrid[-1:1:complex(0, h), -1:1:complex(0, w)].astype(np.float32)
    pixels = pixels * (1 - np.float32(rng.uniform(0, 0.35)) * ((xx * xx + yy * yy) / 2))[:, :, None]  # vignette
    noise = rng.integers(0, 256, pixels.shape, dtype=np.uint8).astype(np.float32) - 127.5
    pixels += noise * np.float32(rng.uniform(1, 8) / 73.9)
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < 0.1:  # out of focus or shaken
        from PIL import ImageFilter
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    return out
