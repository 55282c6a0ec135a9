"""Model inputs read from the feature tables: descriptor matrices, log-mel and face arrays.

A model declares which input it takes (:data:`INPUTS`); evaluation and serving rebuild that
input from the same feature table with :func:`model_input`, so training and prediction can
never disagree on how a sample becomes numbers.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emorec.errors import DataError
from emorec.labels import LABELS
from emorec.tables import FACE_SIDE, pixels_numpy

INPUTS = ("descriptors", "logmel", "pixels")
#: Groups of audio descriptor columns: the pipeline's own and openSMILE's eGeMAPS (``egemaps_*``).
DESCRIPTOR_GROUPS = ("emorec", "egemaps")
#: Feature-table columns that describe a sample rather than measure it.
SAMPLE_COLUMNS = ("corpus", "sample_id", "label", "label_id", "original_label", "split", "speaker")


def read_features(path: str | Path) -> pa.Table:
    """A feature table, failing with the path when it is missing or unreadable."""
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read feature table: {exc}") from exc


def descriptor_group(name: str) -> str:
    """The :data:`DESCRIPTOR_GROUPS` entry a descriptor column belongs to."""
    return "egemaps" if name.startswith("egemaps_") else "emorec"


def descriptor_names(table: pa.Table, groups: Sequence[str] = DESCRIPTOR_GROUPS) -> list[str]:
    """The scalar descriptor columns of an audio feature table in ``groups``, in table order."""
    unknown = sorted(set(groups) - set(DESCRIPTOR_GROUPS))
    if unknown:
        raise ValueError(
            f"unknown descriptor groups {unknown}; expected some of {', '.join(DESCRIPTOR_GROUPS)}"
        )
    names = [
        f.name
        for f in table.schema
        if f.name not in SAMPLE_COLUMNS
        and pa.types.is_floating(f.type)
        and descriptor_group(f.name) in groups
    ]
    if not names:
        raise DataError(
            f"the audio feature table has no descriptors of {list(groups)}; is features.audio.egemaps on?"
        )
    return names


def speaker_normalise(x: np.ndarray, speakers: Sequence[str], *, axis: tuple[int, ...] = (0,)) -> np.ndarray:
    """Z-normalise ``x`` per speaker: each speaker's rows by the mean and standard deviation
    of that speaker's own rows (over the sample axis and ``axis``), in float64.

    Transductive: a test speaker is normalised by statistics of its own *unlabelled* clips, as
    in the speaker-normalisation literature; no label is used. It removes much of what makes
    voices differ (pitch range, loudness, timbre), so emotion is measured against a speaker's
    own baseline. Constant features stay 0.
    """
    out = np.empty(x.shape, dtype=np.float64)
    ids = np.asarray(speakers)
    for speaker in sorted(set(ids.tolist())):
        rows = ids == speaker
        own = x[rows].astype(np.float64)
        mean = own.mean(axis=axis, keepdims=True)
        std = own.std(axis=axis, keepdims=True)
        out[rows] = (own - mean) / np.where(std > 1e-8, std, 1.0)
    return out


def speaker_baseline(
    x: np.ndarray, speakers: Sequence[str], *, axis: tuple[int, ...] = (0,)
) -> tuple[np.ndarray, np.ndarray]:
    """The average speaker: each speaker's mean and standard deviation (as
    :func:`speaker_normalise` takes them), averaged over the speakers, shaped to broadcast
    over samples (``axis`` kept as 1). A clip of an unknown speaker that comes alone (serving)
    is normalised by these in place of its own speaker's statistics."""
    ids = np.asarray(speakers)
    means, stds = [], []
    for speaker in sorted(set(ids.tolist())):
        own = x[ids == speaker].astype(np.float64)
        means.append(own.mean(axis=axis, keepdims=True)[0])
        stds.append(own.std(axis=axis, keepdims=True)[0])
    std = np.mean(stds, axis=0)
    return np.mean(means, axis=0), np.where(std > 1e-8, std, 1.0)


def _fixed_list(table: pa.Table, column: str) -> np.ndarray:
    """A fixed-size list column as a 2-D array (rows, list size), without Python loops."""
    chunked = table.column(column).combine_chunks()
    width = chunked.type.list_size
    return chunked.flatten().to_numpy(zero_copy_only=False).reshape(len(table), width)


def model_input(
    table: pa.Table, kind: str, *, descriptors: Sequence[str] = DESCRIPTOR_GROUPS, speaker_norm: bool = False
) -> np.ndarray | pd.DataFrame:
    """The array a model of input ``kind`` (one of :data:`INPUTS`) takes for every row.

    ``descriptors`` chooses the descriptor groups; ``speaker_norm`` z-normalises audio inputs
    per speaker (:func:`speaker_normalise`; per mel band for log-mel arrays). Both are part
    of a model's card, so evaluation rebuilds exactly the input the model was trained on.

    Returns
    -------
    np.ndarray or pd.DataFrame
        ``descriptors``: a float32 DataFrame, one named column per descriptor (so served
        scikit-learn models take named feature rows);
        ``logmel``: [shape=(n, n_mels, frames, 1), float32];
        ``pixels``: [shape=(n, 48, 48, 1), uint8].
    """
    if kind == "descriptors":
        names = descriptor_names(table, descriptors)
        matrix = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names]).astype(
            np.float32
        )
        if speaker_norm:
            matrix = speaker_normalise(matrix, table.column("speaker").to_pylist()).astype(np.float32)
        return pd.DataFrame(matrix, columns=names)
    if kind == "logmel":
        shape = (table.schema.metadata or {}).get(b"logmel_shape")
        if shape is None:
            raise DataError("audio feature table has no logmel_shape metadata")
        n_mels, frames = (int(v) for v in shape.decode().split(","))
        arrays = _fixed_list(table, "logmel").reshape(len(table), n_mels, frames, 1)
        if speaker_norm:
            arrays = speaker_normalise(arrays, table.column("speaker").to_pylist(), axis=(0, 2))
        return arrays.astype(np.float32)
    if kind == "pixels":
        return pixels_numpy(table.column("pixels")).reshape(len(table), FACE_SIDE, FACE_SIDE, 1)
    raise ValueError(f"unknown model input {kind!r}; expected one of {', '.join(INPUTS)}")


def classes_of(labels: np.ndarray) -> list[str]:
    """The labels present, emotions in unified label order, any others (speaker sex: female,
    male) after them in sorted order: a model's output classes."""
    present = set(labels.tolist())
    return [label for label in LABELS if label in present] + sorted(present - set(LABELS))


def split_rows(table: pa.Table, split: str) -> pa.Table:
    """Rows of ``split`` (``train``, ``val`` or ``test``); fails when there are none."""
    mask = pc.equal(table.column("split"), split)
    rows = table.filter(mask)
    if len(rows) == 0:
        raise DataError(f"the feature table has no {split!r} rows; check the split parameters")
    return rows


def encode(labels: np.ndarray, classes: list[str]) -> np.ndarray:
    """Indices of ``labels`` in ``classes``; fails naming a label the model never saw."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(labels.tolist()) - set(index))
    if unknown:
        raise DataError(f"labels {unknown} are not among the model classes {classes}")
    return np.array([index[label] for label in labels.tolist()], dtype=np.int64)
