"""Face features: 48x48 uint8 arrays, optionally histogram-equalised per image."""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emorec.tables import FACE_FEATURES, pixels_array, pixels_numpy, write_table

log = logging.getLogger(__name__)


def equalize(images: np.ndarray) -> np.ndarray:
    """Histogram-equalise each image (row) independently.

    Parameters
    ----------
    images : np.ndarray [shape=(n, pixels), dtype=uint8]

    Returns
    -------
    np.ndarray [shape=(n, pixels), dtype=uint8]
        Each row's grey levels spread over 0..255 by its own cumulative histogram; a
        constant image stays constant.
    """
    n, width = images.shape
    offsets = (np.arange(n, dtype=np.int64) * 256)[:, None]
    hist = np.bincount((images.astype(np.int64) + offsets).ravel(), minlength=n * 256).reshape(n, 256)
    cdf = hist.cumsum(axis=1)
    cdf_min = np.where(hist > 0, cdf, width).min(axis=1, keepdims=True)
    span = np.maximum(width - cdf_min, 1)
    lut = np.clip(np.round((cdf - cdf_min) * 255.0 / span), 0, 255).astype(np.uint8)
    flat = np.take_along_axis(lut, images.astype(np.int64), axis=1)
    constant = (hist.max(axis=1) == width)[:, None]
    return np.where(constant, images, flat).astype(np.uint8)


def face_features(
    *, manifest_paths: Sequence[str | Path], output_path: str | Path, equalize_histogram: bool
) -> None:
    """Turn the face manifests of every face corpus into the one training-ready
    :data:`FACE_FEATURES` table the face model reads (its ``corpus`` column keeps them apart)."""
    manifest = pa.concat_tables([pq.read_table(path) for path in manifest_paths])
    images = pixels_numpy(manifest.column("pixels"))
    if equalize_histogram:
        images = equalize(images)
    table = manifest.drop_columns(["pixels", "row"]).append_column("pixels", pixels_array(images))
    write_table(table, output_path, FACE_FEATURES)
    log.info("faces: %d images -> %s (equalised: %s)", table.num_rows, output_path, equalize_histogram)
