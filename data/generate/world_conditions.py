"""One photo's conditions in the world generator (data/generate/world.py): the month, the hour, the weather and
the colours of sky, land, vegetation and air, drawn at random around what the place decides (world_geography.py).

  - climate: the place's temperature and aridity indices set the vegetation colour (deep blue-green tropics, fresh
    temperate green, dark boreal conifers, tundra, sand, snow and ice) and the trees (world_landscape.py); over it
    each region casts its own land cover (LAND_TINT: emerald pasture in north-western Europe, straw and
    olive in summer-dry climates, savanna gold over red laterite in Africa, dusty ground in South Asia, paddy green in
    South-East Asia, dry grass and red soil in Australia, lawns in North America...); four seasons where the
    climate is temperate (autumn leaves, bare trees and brown winter grass, snow in continental winters; the month
    is random, seasons are flipped south of the equator);
  - sky and light: the clear sky deepens with latitude (pale, humid tropics; deep blue at high latitudes), the sun's
    elevation from latitude, month and hour sets the light (golden and dim when low, harsh and bleached when
    overhead, long shadows, polar winter darkness), cloud and weather odds by climate and region (CLOUDINESS:
    overcast north-western Europe, clear Mediterranean summers, cumulus tropics), and the air of the region (AIR):
    a veil over the view, strongest at the horizon: smog in East and South Asian cities, dust over the Middle East
    and the Sahel, damp haze in the wet tropics, a blue distance in the dry air of North America.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from data.generate.world_geography import Place, smooth
from data.generate.world_painting import choose, mix, vary
from data.generate.world_styles import country_style, stable_hash


@dataclass
class Conditions:
    """One photo's conditions: the place plus everything drawn at random for this photo."""
    place: Place
    look: dict            # the country's style
    horizon: float        # y of the horizon (units)
    sun: float            # sun elevation (degrees)
    sun_side: int         # +1: the sun is to the right (shadows fall left)
    night: bool
    season: str           # "winter", "spring", "summer", "autumn" (local)
    weather: str          # "clear", "cloudy", "overcast", "rain", "fog", "snow"
    snow: bool            # snow on the ground
    sky_top: tuple
    sky_bottom: tuple
    ground: tuple
    veg: tuple
    soil: tuple
    haze: tuple           # the colour distant things fade to
    air: tuple            # the colour of the veil over the view (smog, dust, damp haze)
    air_amount: float     # its strength at the horizon
    wall_bias: int        # the region's favourite wall colour (index into look["walls"])


VEG_KNOTS = [(0.0, (150, 148, 140)), (0.12, (128, 120, 84)), (0.25, (34, 66, 44)), (0.42, (98, 148, 58)),
             (0.58, (114, 146, 62)), (0.7, (62, 132, 52)), (0.82, (26, 112, 48)), (1.0, (18, 98, 44))]

# The look of the land between the buildings, per architectural style (climate decides first; this is the regional
# cast over it): (grass and ground colour, how strongly it overrides the climate's green, bare soil colour).
LAND_TINT = {
    "west_eu": ((60, 134, 64), 0.6, (112, 90, 70)),         # lush emerald pasture
    "nordic": ((46, 86, 56), 0.6, (100, 86, 70)),           # dark spruce, moss
    "east_eu": ((110, 142, 58), 0.5, (118, 96, 70)),
    "post_soviet": ((140, 146, 84), 0.6, (120, 104, 80)),   # pale steppe grass and birches
    "med_eu": ((176, 160, 94), 0.7, (176, 128, 84)),        # dry straw, olive groves, terra rossa
    "mena": ((200, 172, 118), 0.8, (190, 156, 112)),        # dust
    "south_asia": ((170, 150, 98), 0.7, (176, 100, 62)),    # dusty, trampled ground
    "east_asia": ((106, 124, 92), 0.6, (130, 112, 90)),     # muted grey-green
    "se_asia": ((44, 146, 54), 0.6, (172, 92, 56)),         # saturated paddy green, laterite
    "north_america": ((100, 158, 56), 0.6, (120, 98, 74)),  # mown lawns
    "latin": ((36, 120, 44), 0.6, (170, 88, 52)),           # deep green, red soil
    "subsaharan": ((194, 150, 74), 0.8, (176, 84, 48)),     # savanna grass over red laterite
    "oceania": ((182, 150, 90), 0.7, (190, 98, 56)),        # dry grass, red soil
    "antarctic": ((150, 148, 140), 0.0, (110, 106, 100)),
}
# The air, per style: (colour, amount) of the veil over the view, strongest at the horizon (smog, dust, the damp
# haze of the tropics; the crisp air of dry mid-latitude climates has none).
AIR = {
    "west_eu": ((188, 192, 200), 0.24), "nordic": ((196, 210, 230), 0.18), "east_eu": ((196, 196, 190), 0.2),
    "post_soviet": ((192, 192, 184), 0.26), "med_eu": ((242, 230, 206), 0.2), "mena": ((232, 214, 172), 0.5),
    "south_asia": ((200, 178, 138), 0.6), "east_asia": ((194, 190, 170), 0.55), "se_asia": ((222, 230, 204), 0.42),
    "north_america": ((150, 190, 240), 0.24), "latin": ((188, 226, 208), 0.4), "subsaharan": ((226, 160, 108), 0.5),
    "oceania": ((246, 236, 206), 0.26), "antarctic": ((230, 236, 244), 0.16),
}
# How often the sky is overcast and how often cloudy, relative to the climate's odds, per style: the grey skies of
# north-western Europe, the clear summers of the Mediterranean, the dry air of the Middle East, the tropics' cumulus.
CLOUDINESS = {
    "west_eu": (1.7, 1.0), "nordic": (1.5, 1.0), "east_eu": (1.3, 1.0), "post_soviet": (1.3, 1.0),
    "med_eu": (0.35, 0.6), "mena": (0.2, 0.4), "south_asia": (0.6, 0.8), "east_asia": (1.2, 1.0),
    "se_asia": (0.7, 1.5), "north_america": (0.5, 0.8), "latin": (0.7, 1.3), "subsaharan": (0.5, 1.1),
    "oceania": (0.4, 0.8), "antarctic": (1.0, 1.0),
}
# Summer-dry (Mediterranean) climates outside Mediterranean countries: (lat0, lat1, lon0, lon1).
SUMMER_DRY = [(31, 42, -124, -116.5), (-38, -30, -73.5, -70), (-35.5, -32, 17.5, 21.5), (-36, -30, 114, 119),
              (-36, -33, 135, 146)]


def vegetation_colour(t: float) -> tuple:
    for (t0, c0), (t1, c1) in itertools.pairwise(VEG_KNOTS):
        if t <= t1:
            return mix(c0, c1, (t - t0) / (t1 - t0))
    return VEG_KNOTS[-1][1]


def sun_elevation(lat: float, day_of_year: float, hour: float) -> float:
    declination = math.radians(-23.44 * math.cos(2 * math.pi * (day_of_year + 10) / 365))
    phi, hour_angle = math.radians(lat), math.radians(15 * (hour - 12))
    s = math.sin(phi) * math.sin(declination) + math.cos(phi) * math.cos(declination) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def conditions(place: Place, rng: np.random.Generator) -> Conditions:
    look = country_style(place.cc, place.style)
    t, a = place.temperature, place.aridity
    month = int(rng.integers(12))
    local = month if place.lat >= 0 else (month + 6) % 12
    season = ["winter", "winter", "spring", "spring", "spring", "summer", "summer", "summer", "autumn", "autumn",
              "autumn", "winter"][local]
    day = month * 30.44 + rng.uniform(0, 30.44)
    hour = float(np.clip(rng.normal(13.2, 2.4), 5, 22)) if rng.random() > 0.04 else rng.uniform(17.5, 23)
    sun = sun_elevation(place.lat, day, hour)
    if sun < -6 and rng.random() < 0.6:  # fewer photos in the dark
        hour = rng.uniform(10, 15)
        sun = sun_elevation(place.lat, day, hour)
    night = sun < -6

    # weather odds by climate
    maritime = smooth(place.lat, 45, 50) * (1 - smooth(place.lat, 66, 72)) * smooth(place.lon, -12, -8) * (
        1 - smooth(place.lon, 15, 25))
    cloudiness, cumulus = CLOUDINESS[place.style]
    overcast = max(0.0, cloudiness * (0.12 + 0.35 * maritime + 0.15 * (1 - smooth(t, 0.3, 0.5)) - 0.15 * a))
    cloudy = cumulus * (0.25 + 0.15 * smooth(t, 0.7, 0.9) - 0.15 * a)
    rain = 0.035 + 0.05 * smooth(t, 0.8, 0.95) * (1 - a) + 0.04 * maritime
    fog = 0.015 + 0.05 * place.sea + 0.03 * place.mountain
    snow_cover = t < 0.05 or (season == "winter" and rng.random() < 1.3 * (1 - smooth(t, 0.15, 0.52))) or (
        season in ("spring", "autumn") and rng.random() < 0.6 * (1 - smooth(t, 0.05, 0.25)))
    snowfall = 0.25 if snow_cover and t < 0.45 else 0.0
    weather = choose(rng, {"clear": max(0.05, 1 - overcast - cloudy - rain - fog - snowfall),
                           "cloudy": max(cloudy, 0.02),
                           "overcast": max(overcast, 0.02), "rain": rain * (0 if snow_cover else 1), "fog": fog,
                           "snow": snowfall})

    # colours: the climate's green, the region's cast, dryness, snow
    veg = vegetation_colour(t)
    tint, strength, soil = LAND_TINT[place.style]
    summer_dry = place.style in ("med_eu", "mena") or any(
        a0 <= place.lat <= a1 and o0 <= place.lon <= o1 for a0, a1, o0, o1 in SUMMER_DRY)
    if summer_dry and place.style not in ("med_eu", "mena"):
        tint, strength = (176, 160, 94), 0.6
    strength *= 0.75 * smooth(t, 0.1, 0.25)
    ground = mix(veg, tint, strength)
    veg = mix(veg, tint, 0.4 * strength)
    if place.cc == "AU":  # grey-green eucalypts
        veg = mix(veg, (112, 128, 96), 0.5)
    temperate = smooth(t, 0.2, 0.3) * (1 - smooth(t, 0.58, 0.68))  # four seasons: autumn leaves, winter browns
    if season == "autumn":
        veg = mix(veg, (196, 112, 40), 0.65 * temperate)
        ground = mix(ground, (156, 128, 64), 0.45 * temperate)
    elif season == "winter":
        veg = mix(veg, (120, 104, 80), 0.6 * temperate)
        ground = mix(ground, (150, 136, 96), 0.6 * temperate)
    elif season == "spring":
        veg = mix(veg, (136, 176, 72), 0.3 * temperate)
    elif season == "summer" and (summer_dry or 0.5 < t < 0.8):
        dry = 0.6 if summer_dry else 0.45 * smooth(a, 0.1, 0.35)
        ground = mix(ground, (196, 170, 100), dry)
    ground = mix(ground, (176, 156, 102), smooth(a, 0.25, 0.65))
    ground = mix(ground, place.sand, smooth(a, 0.55, 0.85))
    if t < 0.1 and not snow_cover:  # tundra and bare rock
        ground = mix(ground, (130, 125, 110), 0.4)
    if place.mountain > 0.5:
        ground = mix(ground, (135, 125, 110), 0.35 * smooth(place.mountain, 0.5, 0.9))
    if a > 0.6:
        soil = mix(place.sand, (150, 120, 90), 0.3)
    if snow_cover:
        ground = vary((232, 236, 244), rng, 6)

    # sky: deep blue at high latitudes, pale and humid in the tropics, dusty over deserts, smog in some cities
    dust = 0.6 * smooth(a, 0.5, 0.9)
    smog = look.get("haze", 0.0) * (0.35 + 0.65 * place.urban)
    smog_colour = (206, 190, 150) if place.style == "south_asia" else (184, 184, 176)
    humid = smooth(t, 0.7, 0.95) * (1 - a)
    polar = smooth(abs(place.lat), 22, 55)
    elevation_t = 1 - smooth(sun, 2, 18)
    if night:
        sky_top = (8, 12, 30)
        sky_bottom = mix((30, 32, 52), (90, 66, 52), place.urban)
    elif sun < 2:  # twilight
        sky_top, sky_bottom = (42, 52, 102), vary((236, 128, 82), rng, 15)
    else:
        sky_top = mix((70, 134, 216), (16, 52, 158), polar)
        sky_top = mix(sky_top, (126, 170, 212), 0.5 * humid + dust)
        sky_bottom = mix(mix((186, 212, 238), (146, 182, 228), polar), (224, 230, 232), 0.8 * humid)
        sky_bottom = mix(sky_bottom, (226, 210, 180), dust)
        sky_top = mix(sky_top, smog_colour, 0.8 * smog)
        sky_bottom = mix(sky_bottom, smog_colour, smog)
        sky_top = mix(sky_top, (70, 80, 140), 0.5 * elevation_t)
        sky_bottom = mix(sky_bottom, (250, 176, 108), 0.8 * elevation_t)
    if weather in ("overcast", "rain", "snow", "fog"):
        grey = {"overcast": 172, "rain": 128, "snow": 196, "fog": 205}[weather] * (0.25 if night else 1)
        sky_top = mix(sky_top, (grey - 8, grey - 4, grey + 2), 0.85)
        sky_bottom = mix(sky_bottom, (grey + 20, grey + 22, grey + 25), 0.85)
    haze = mix(sky_bottom, (200, 205, 210), 0.3)
    air, air_amount = AIR[place.style]
    air_amount *= (0.6 + 0.8 * place.urban if place.style in ("east_asia", "south_asia") else 1.0) * (
        0.3 if night or weather in ("fog", "rain", "snow") else 1.0) * rng.uniform(0.6, 1.3)
    air_amount += 0.15 * dust
    return Conditions(place, look, rng.uniform(42, 57), sun, 1 if rng.random() < 0.5 else -1, night, season,
                      weather, snow_cover, vary(sky_top, rng, 8), vary(sky_bottom, rng, 8), vary(ground, rng, 10),
                      vary(veg, rng, 10), vary(soil, rng, 10), haze, air, air_amount,
                      stable_hash(place.cc, place.admin1) % len(look["walls"]))
