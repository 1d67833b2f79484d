"""Culture for the world generator (data/generate/world.py): the architectural style of each country and its
tweaks, the script on its signs and its flag (tables; the drawing is in world_buildings.py, world_street.py and
world_scenes.py).

  - culture: one of 13 architectural styles per country (STYLES, and Antarctic stations: roofs, walls, storeys,
    towers, panel blocks, domes and minarets, pagodas, stupas, onion domes, spires, corrugated roofs, huts...),
    tweaked per country (COUNTRY_STYLE: e.g. mansard France, brick Britain, white-and-blue Greece, Gulf towers) and,
    weakly, per region (a favourite wall colour per admin1): wall and roof palettes differ by region (red tiles
    around the Mediterranean, slate and brick in north-western Europe, falu red in Scandinavia, bright walls and
    flat roofs in Latin America, dark curved tiles in East Asia, sand-coloured flat roofs in the Middle East,
    corrugated metal in Africa, white siding and dark shingles in North America) and fill much of most photos;
    the near side of a street shows the region's verge (lawn, red earth, dust, sand); road-marking colour (yellow
    centre lines in the Americas), overhead wires, vehicles, the script on signs (Latin, Cyrillic, Arabic, CJK,
    Hangul, Devanagari, Thai) and a flag (national colours for 50 countries, hashed colours elsewhere).
"""
from __future__ import annotations

import zlib

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
