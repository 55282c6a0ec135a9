"""A synthetic FER2013 CSV (``emotion,pixels,Usage``) of 48x48 grayscale cartoon faces.

Expression geometry follows the label (mouth curve and opening, brow height and slant, eye
opening, nose wrinkle), acted with a random intensity; position, scale, rotation, skin tone,
lighting direction and sensor noise vary per image. Labels follow FER2013's class shares and
rows are ordered Training / PublicTest / PrivateTest in its 80/10/10 proportions.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emorec.labels import FER2013_EMOTIONS
from emorec.tables import FACE_SIDE

log = logging.getLogger(__name__)

#: FER2013 class shares (codes 0..6), from the full dataset's counts.
CLASS_SHARES = np.array([4953, 547, 5121, 8989, 6077, 4002, 6198], dtype=float)


@dataclass(frozen=True)
class Expression:
    """Geometry of a full expression, relative to neutral (all zero)."""

    smile: float  # mouth-corner lift (>0 up, <0 down)
    mouth_open: float  # mouth opening height
    mouth_width: float  # relative width change
    brow_raise: float  # brow height change (pixels at scale 1)
    brow_slant: float  # inner brow ends: >0 up (sad/fear), <0 down (angry)
    eye_open: float  # eye opening change (relative)
    wrinkle: float  # nose wrinkle strength (disgust)
    asym: float  # one-sided upper lip raise (disgust)


EXPRESSIONS: dict[str, Expression] = {
    "angry": Expression(-0.4, 0.0, -0.15, -1.6, -1.8, -0.30, 0.2, 0.0),
    "disgust": Expression(-0.6, 0.6, -0.05, -1.0, -0.8, -0.35, 1.0, 1.0),
    "fear": Expression(-0.3, 1.6, 0.20, 2.0, 1.2, 0.60, 0.0, 0.0),
    "happy": Expression(1.6, 0.8, 0.20, 0.3, 0.0, -0.30, 0.0, 0.0),
    "sad": Expression(-1.4, 0.0, -0.05, 0.4, 1.8, -0.20, 0.0, 0.0),
    "surprise": Expression(0.0, 3.0, -0.25, 3.0, 0.3, 0.70, 0.0, 0.0),
    "neutral": Expression(0, 0, 0, 0, 0, 0, 0, 0),
}


def _soft(distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a shape from a signed distance (negative inside)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def render_face(code: int, rng: np.random.Generator) -> np.ndarray:
    """One face for FER2013 emotion ``code``.

    Returns
    -------
    np.ndarray [shape=(48, 48), dtype=uint8]
    """
    e = EXPRESSIONS[FER2013_EMOTIONS[code][0]]
    k = rng.uniform(0.6, 1.2)  # how strongly the expression is acted
    s = rng.uniform(0.92, 1.08)  # face scale
    angle = rng.normal(0, 0.05)
    cx, cy = 24 + rng.normal(0, 1.0), 25 + rng.normal(0, 1.0)
    yy, xx = np.mgrid[0:FACE_SIDE, 0:FACE_SIDE].astype(float)
    # Face-centred, rotated, scale-normalised coordinates.
    u = (np.cos(angle) * (xx - cx) + np.sin(angle) * (yy - cy)) / s
    v = (-np.sin(angle) * (xx - cx) + np.cos(angle) * (yy - cy)) / s

    light = rng.uniform(-1, 1, 2)
    background = rng.uniform(20, 200) + 25 * (light[0] * xx + light[1] * yy) / FACE_SIDE
    skin = rng.uniform(110, 220)
    img = background.copy()
    face = _soft((np.sqrt((u / 16.5) ** 2 + (v / 20.5) ** 2) - 1) * 16)
    img = img * (1 - face) + (skin + 30 * (light[0] * u + light[1] * v) / 20) * face
    dark = skin * rng.uniform(0.15, 0.4)

    def paint(mask: np.ndarray, level: float) -> None:
        nonlocal img
        img = img * (1 - mask) + level * mask

    # Eyes: ellipses whose height follows the expression, with a dark iris.
    eye_h = np.clip(2.2 * (1 + k * e.eye_open) + rng.normal(0, 0.2), 0.6, 4.5)
    for side in (-1, 1):
        ex, ey = side * 7.0, -4.0
        sclera = _soft((np.sqrt(((u - ex) / 3.6) ** 2 + ((v - ey) / eye_h) ** 2) - 1) * 2.5)
        paint(sclera, min(255, skin * 1.15))
        iris = _soft((np.sqrt(((u - ex) / 1.6) ** 2 + ((v - ey) / min(eye_h, 1.8)) ** 2) - 1) * 2.0)
        paint(iris * sclera, dark)
        # Brows: a thick segment, raised and slanted by the expression.
        bx = u - ex
        inner = -side * bx  # >0 toward the nose
        brow_y = (
            ey - 4.5 - k * e.brow_raise - k * e.brow_slant * np.clip(inner, -4, 4) / 4 + rng.normal(0, 0.2)
        )
        brow = _soft((np.abs(v - brow_y) - 0.9) * 2) * _soft((np.abs(bx) - 4.2) * 2)
        paint(brow, dark * 1.2)

    # Nose and disgust wrinkle.
    paint(_soft((np.abs(u) - 0.7) * 2) * _soft((np.abs(v - 3) - 3.0) * 2) * 0.35, dark)
    if e.wrinkle:
        for side in (-1, 1):
            paint(
                _soft((np.abs(v - 1 + 0.5 * np.abs(u)) - 0.5) * 2)
                * _soft((np.abs(u - side * 2.5) - 1.5) * 2)
                * 0.6
                * k
                * e.wrinkle,
                dark,
            )

    # Mouth: a curve y = c * x^2 lifted at the corners, opened into a dark cavity.
    half_w = 6.5 * (1 + k * e.mouth_width)
    x = np.clip(u / half_w, -1.5, 1.5)
    corners = -k * e.smile * 2.2 * x**2 - k * e.asym * 1.2 * np.clip(x, 0, 1)
    centre_y = 11.5 + rng.normal(0, 0.3)
    opening = max(0.0, k * e.mouth_open + rng.normal(0, 0.2))
    top = centre_y + corners - opening * (1 - x**2) * 0.9
    bottom = centre_y + corners + opening * (1 - x**2) * 1.1
    inside = _soft((np.abs(x) - 1) * half_w) * _soft(np.maximum(top - v, v - bottom) * 2 - 1.0)
    paint(inside, dark * 0.8)

    img += rng.normal(0, rng.uniform(4, 14), img.shape)
    contrast = rng.uniform(0.7, 1.2)
    img = (img - img.mean()) * contrast + img.mean()
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def usage_column(rows: int) -> list[str]:
    """FER2013's row order: 80 % Training, then 10 % PublicTest, then 10 % PrivateTest."""
    n_train, n_val = round(rows * 0.8), round(rows * 0.1)
    return ["Training"] * n_train + ["PublicTest"] * n_val + ["PrivateTest"] * (rows - n_train - n_val)


def make_demo_fer2013(*, path: str | Path, rows: int, seed: int) -> None:
    """Write a FER2013-format CSV of ``rows`` synthetic faces to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 2013])
    codes = rng.choice(len(CLASS_SHARES), size=rows, p=CLASS_SHARES / CLASS_SHARES.sum())
    lines = ["emotion,pixels,Usage"]
    for i, (code, usage) in enumerate(zip(codes, usage_column(rows))):
        face = render_face(int(code), np.random.default_rng([seed, i]))
        lines.append(f"{code},{' '.join(map(str, face.ravel().tolist()))},{usage}")
    path.write_text("\n".join(lines) + "\n")
    log.info("demo FER2013: %d faces -> %s", rows, path)
