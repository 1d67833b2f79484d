"""Pixel-level drawing primitives of the world generator (data/generate/world.py): a square canvas addressed in
units (x and y from 0 to 100, y down, whatever the pixel size) and the colour arithmetic every drawing uses (mix,
shade, random variation) with a weighted random choice."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


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
