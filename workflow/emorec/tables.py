"""Every parquet table's schema, defined once, and the one way tables are written.

Manifests (one row per usable sample), rejects (one row per unusable archive member or CSV
row), audio features and face features. Writers cast to these schemas, so a table on disk
always has exactly these columns and types; tests check them.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emorec.errors import DataError

log = logging.getLogger(__name__)

FACE_SIDE = 48
FACE_PIXELS = FACE_SIDE * FACE_SIDE

REJECTS = pa.schema(
    [
        ("corpus", pa.string()),
        ("archive", pa.string()),
        ("item", pa.string()),  # archive member name, or "row N" (1-based data row) of a CSV
        ("reason", pa.string()),
    ]
)

_SAMPLE = [
    ("corpus", pa.string()),
    ("sample_id", pa.string()),
    ("label", pa.string()),
    ("label_id", pa.int8()),
    ("original_label", pa.string()),
    ("split", pa.string()),
]

AUDIO_MANIFEST = pa.schema(
    [
        *_SAMPLE,
        ("member", pa.string()),
        ("speaker", pa.string()),
        ("sex", pa.string()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int8()),
        ("frames", pa.int64()),
        ("duration_s", pa.float32()),
        ("content_hash", pa.string()),
    ]
)

#: Every decoded RAVDESS filename code, one int8 column each.
_RAVDESS_CODES = [
    pa.field(name, pa.int8())
    for name in ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
]

#: RAVDESS manifest: the common audio columns plus every decoded filename code.
RAVDESS_MANIFEST = pa.schema(list(AUDIO_MANIFEST) + _RAVDESS_CODES)

#: RAVDESS video manifest: one row per usable clip of every configured video archive.
VIDEO_MANIFEST = pa.schema(
    [
        *_SAMPLE,
        ("archive", pa.string()),
        ("member", pa.string()),
        ("speaker", pa.string()),
        ("sex", pa.string()),
        ("av", pa.string()),  # full_av (a voice and a face of one take) or video_only
        ("duration_s", pa.float32()),
        ("fps", pa.float32()),
        ("width", pa.int16()),
        ("height", pa.int16()),
        ("frames", pa.int32()),
        ("has_audio", pa.bool_()),
        ("content_hash", pa.string()),
    ]
    + _RAVDESS_CODES
)

#: A 48x48 uint8 image, row-major, as one fixed-size binary value: parquet writes and reads
#: it ~30x faster than a list of 2,304 uint8 values (one leaf value, no repetition levels).
PIXELS = pa.binary(FACE_PIXELS)

FACE_MANIFEST = pa.schema([*_SAMPLE, ("row", pa.int32()), ("pixels", PIXELS)])

FACE_FEATURES = pa.schema(
    [*_SAMPLE, ("pixels", PIXELS)],
    metadata={b"image_shape": f"{FACE_SIDE},{FACE_SIDE}".encode()},
)

#: Faces found in sampled video frames (``sample_id`` = clip id + frame), in the FER2013
#: faces' 48x48 normalisation so the face models apply unchanged.
VIDEO_FACES = pa.schema(
    [
        *_SAMPLE,
        ("speaker", pa.string()),
        ("clip_id", pa.string()),
        ("frame", pa.int32()),
        ("time_s", pa.float32()),
        ("box_x", pa.int16()),
        ("box_y", pa.int16()),
        ("box_w", pa.int16()),
        ("box_h", pa.int16()),
        ("score", pa.float32()),  # the detector's confidence (Haar: final-stage level weight)
        ("pixels", PIXELS),
    ],
    metadata={b"image_shape": f"{FACE_SIDE},{FACE_SIDE}".encode()},
)

#: Aggregates computed over frames for every frame-level descriptor.
STATS = ("mean", "std", "min", "max")


def audio_descriptor_names(*, n_mfcc: int) -> list[str]:
    """Names of the scalar audio descriptor columns, in table order.

    MFCCs with deltas and delta-deltas aggregated by :data:`STATS`, then RMS energy,
    zero-crossing rate, spectral centroid, roll-off and pitch (f0 over voiced frames) with
    the same statistics, then the voiced-frame fraction.
    """
    names = [
        f"{kind}_{k:02d}_{stat}"
        for kind in ("mfcc", "mfcc_d", "mfcc_dd")
        for k in range(n_mfcc)
        for stat in STATS
    ]
    names += [f"{kind}_{stat}" for kind in ("rms", "zcr", "centroid", "rolloff", "f0") for stat in STATS]
    names.append("voiced_fraction")
    return names


def audio_features_schema(*, n_mfcc: int, n_mels: int, frames: int) -> pa.Schema:
    """Schema of the audio feature table: sample columns, descriptors and a flat log-mel array.

    ``logmel`` holds a ``(n_mels, frames)`` float32 array in row-major order; the shape is
    also stored in the schema metadata under ``logmel_shape``.
    """
    fields = [*_SAMPLE, ("speaker", pa.string())]
    fields += [(name, pa.float32()) for name in audio_descriptor_names(n_mfcc=n_mfcc)]
    fields.append(("logmel", pa.list_(pa.float32(), n_mels * frames)))
    return pa.schema(fields, metadata={b"logmel_shape": f"{n_mels},{frames}".encode()})


def conform(table: pa.Table, schema: pa.Schema, *, name: str) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema``; raise naming what is missing."""
    present = set(table.column_names)
    missing = [f for f in schema.names if f not in present]
    if missing:
        raise DataError(f"{name}: missing columns {missing}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{name}: columns do not fit the schema: {exc}") from exc


def write_table(table: pa.Table, path: str | Path, schema: pa.Schema) -> None:
    """Write ``table`` conformed to ``schema`` as parquet, creating parent folders.

    Columns are zstd-compressed and dictionary-encoded except float arrays (log-mel
    spectrograms): their mantissas are noise to both (-12% size for 3x the write time), so
    they are stored plain.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {
        f.name
        for f in schema
        if pa.types.is_fixed_size_list(f.type) and pa.types.is_floating(f.type.value_type)
    }
    compression = {name: ("none" if name in plain else "zstd") for name in schema.names}
    dictionary = [name for name in schema.names if name not in plain]
    pq.write_table(
        conform(table, schema, name=str(path)), path, compression=compression, use_dictionary=dictionary
    )


def merge_tables(paths: Sequence[str | Path], output_path: str | Path, schema: pa.Schema) -> int:
    """Concatenate tables of one schema (feature shards, corpora) into one sorted by
    ``sample_id``; returns its row count. Needs nothing but pyarrow, so the job starts fast."""
    merged = pa.concat_tables([pq.read_table(path) for path in paths]).sort_by("sample_id")
    write_table(merged, output_path, schema)
    log.info("merged %d tables: %d rows", len(paths), merged.num_rows)
    return merged.num_rows


def rejects_table(corpus: str, archive: str, rejects: list[tuple[str, str]]) -> pa.Table:
    """Build a :data:`REJECTS` table from ``(item, reason)`` pairs."""
    items = [item for item, _ in rejects]
    reasons = [reason for _, reason in rejects]
    n = len(rejects)
    return pa.table(
        {"corpus": [corpus] * n, "archive": [archive] * n, "item": items, "reason": reasons},
        schema=REJECTS,
    )


def predictions_schema(classes: list[str]) -> pa.Schema:
    """Predictions of one model: the sample, its true and predicted label, one probability
    column ``p_<class>`` per model class."""
    fields = [
        ("corpus", pa.string()),
        ("sample_id", pa.string()),
        ("split", pa.string()),
        ("label", pa.string()),
        ("predicted", pa.string()),
    ]
    return pa.schema(fields + [(f"p_{c}", pa.float32()) for c in classes])


def pixels_array(images: np.ndarray) -> pa.FixedSizeBinaryArray:
    """A :data:`PIXELS` column from uint8 images [shape=(n, 2304)], without copying per row."""
    images = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, FACE_PIXELS)
    return pa.FixedSizeBinaryArray.from_buffers(PIXELS, len(images), [None, pa.py_buffer(images.tobytes())])


def pixels_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint8 images [shape=(n, 2304)] from a :data:`PIXELS` column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise DataError("pixels column has missing images")
    data = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    start = array.offset * FACE_PIXELS
    return data[start : start + len(array) * FACE_PIXELS].reshape(len(array), FACE_PIXELS)


def face_manifest(
    corpus: str,
    *,
    sample_ids: Sequence[str],
    labels: Sequence[str],
    original_labels: Sequence[str],
    splits: Sequence[str],
    images: np.ndarray,
    rows: Sequence[int] | None = None,
) -> pa.Table:
    """A :data:`FACE_MANIFEST` table: one face per sample, ``images`` [shape=(n, 2304), uint8];
    ``rows`` are 1-based CSV rows (``None`` for faces read from image files)."""
    from emorec.labels import label_id

    n = len(sample_ids)
    return pa.table(
        {
            "corpus": pa.array([corpus] * n, pa.string()),
            "sample_id": pa.array(sample_ids, pa.string()),
            "label": pa.array(labels, pa.string()),
            "label_id": pa.array([label_id(u) for u in labels], pa.int8()),
            "original_label": pa.array(original_labels, pa.string()),
            "split": pa.array(splits, pa.string()),
            "row": pa.nulls(n, pa.int32()) if rows is None else pa.array(rows, pa.int32()),
            "pixels": pixels_array(images if n else np.zeros((0, FACE_PIXELS), np.uint8)),
        }
    )
