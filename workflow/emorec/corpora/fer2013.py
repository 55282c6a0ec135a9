"""FER2013 in its original CSV form (``emotion,pixels,Usage``; also ``.csv.gz`` or the
``.tar.gz`` Kaggle shipped).

``Usage`` decides the split: Training -> train, PublicTest -> val, PrivateTest -> test.
Pixel strings are parsed and validated in one pass over the raw bytes by a compiled kernel
(:func:`parse_pixel_strings`): a 300 MB CSV is parsed in well under a second.
"""

import logging
import tarfile
from pathlib import Path
from typing import IO

import numba
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from emorec.archives import file_sha256, require_archive
from emorec.errors import DataError
from emorec.ingest import write_ingest
from emorec.labels import FER2013_EMOTIONS
from emorec.tables import FACE_MANIFEST, FACE_PIXELS, face_manifest

log = logging.getLogger(__name__)

USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
COLUMNS = ("emotion", "pixels", "Usage")

# Row status codes returned by the kernel.
OK, WRONG_COUNT, TOO_LARGE, BAD_CHAR = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def _parse_kernel(data, offsets, width, out, status, counts, bad):  # pragma: no cover - compiled
    for r in range(offsets.shape[0] - 1):
        k = 0
        val = 0
        in_token = False
        st = OK
        for p in range(offsets[r], offsets[r + 1]):
            c = data[p]
            if 48 <= c <= 57:
                val = min(val * 10 + (c - 48), 1000)
                in_token = True
            elif c == 32 or c == 9 or c == 10 or c == 13:
                if in_token:
                    if val > 255 and st == OK:
                        st = TOO_LARGE
                        bad[r] = val
                    if k < width:
                        out[r, k] = val
                    k += 1
                    val = 0
                    in_token = False
            elif st == OK:
                st = BAD_CHAR
                bad[r] = c
        if in_token:
            if val > 255 and st == OK:
                st = TOO_LARGE
                bad[r] = val
            if k < width:
                out[r, k] = val
            k += 1
        if st == OK and k != width:
            st = WRONG_COUNT
        counts[r] = k
        status[r] = st


def parse_pixel_strings(
    pixels: pa.Array | pa.ChunkedArray, *, width: int = FACE_PIXELS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse space-separated pixel strings into a uint8 matrix, validating every row.

    Returns
    -------
    images : np.ndarray [shape=(n, width), dtype=uint8]
    status : np.ndarray [shape=(n,), dtype=int8]
        ``OK``, ``WRONG_COUNT``, ``TOO_LARGE`` (a value over 255) or ``BAD_CHAR``.
    counts : np.ndarray [shape=(n,), dtype=int32]
        Number of values found in each row.
    bad : np.ndarray [shape=(n,), dtype=int32]
        The offending value (``TOO_LARGE``, capped at 1000) or character code (``BAD_CHAR``).
    """
    array = pixels.combine_chunks() if isinstance(pixels, pa.ChunkedArray) else pixels
    array = array.cast(pa.large_string()).fill_null("")
    _, offsets_buf, data_buf = array.buffers()
    n = len(array)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    images = np.zeros((n, width), dtype=np.uint8)
    status = np.zeros(n, dtype=np.int8)
    counts = np.zeros(n, dtype=np.int32)
    bad = np.zeros(n, dtype=np.int32)
    _parse_kernel(data, offsets, width, images, status, counts, bad)
    return images, status, counts, bad


def _pixel_reason(status: int, count: int, bad: int, width: int) -> str:
    if status == WRONG_COUNT:
        return f"pixels: {count} values, expected {width}"
    if status == TOO_LARGE:
        return f"pixels: value {bad}{'+' if bad >= 1000 else ''} outside 0..255"
    return f"pixels: unexpected character {chr(bad)!r}"


def _csv_in_tar(path: Path) -> IO[bytes]:
    """The FER2013 CSV inside a ``.tar.gz`` (as Kaggle shipped it: ``fer2013/fer2013.csv``)."""
    try:
        tar = tarfile.open(path)  # noqa: SIM115  (the returned stream reads from it, so it stays open)
        members = [
            m
            for m in tar.getmembers()
            if m.isfile() and m.name.endswith(".csv") and "/._" not in f"/{m.name}"
        ]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable tar archive ({exc})") from exc
    if len(members) != 1:
        raise DataError(
            f"{path}: expected one .csv file in the tar archive, found {[m.name for m in members]}"
        )
    stream = tar.extractfile(members[0])
    assert stream is not None  # a regular file
    return stream


def read_fer_csv(path: str | Path) -> tuple[pa.Table, list[tuple[str, str]]]:
    """Read a FER2013 CSV (plain, ``.csv.gz``, or inside a ``.tar.gz``) into its raw string columns.

    Returns the table and the rejects for malformed lines (wrong number of fields).
    """
    path = require_archive(path)
    source: Path | IO[bytes] = _csv_in_tar(path) if is_tar(path) else path
    malformed: list[tuple[str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        where = f"line {row.number}" if row.number is not None else "line ?"
        malformed.append(
            (where, f"{row.actual_columns} fields, expected {row.expected_columns}: {row.text[:40]!r}")
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            source,
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in COLUMNS}, include_columns=list(COLUMNS)
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, EOFError, tarfile.TarError) as exc:
        raise DataError(
            f"{path}: not a readable FER2013 CSV with columns {','.join(COLUMNS)} ({exc})"
        ) from exc
    return table, malformed


def fer_csv_manifest(table: pa.Table) -> tuple[pa.Table, list[tuple[str, str]]]:
    """Turn raw FER2013 CSV columns into a :data:`FACE_MANIFEST` table plus row rejects.

    Row ``N`` (1-based, header excluded) gets ``sample_id`` ``fer2013-NNNNN``.
    """
    n = table.num_rows
    images, status, counts, bad = parse_pixel_strings(table.column("pixels"))
    emotion = np.array(table.column("emotion").fill_null("").to_pylist(), dtype=object)
    usage = np.array(table.column("Usage").fill_null("").to_pylist(), dtype=object)
    names = {str(code): pair for code, pair in FER2013_EMOTIONS.items()}
    rejects: list[tuple[str, str]] = []
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        reason = None
        if emotion[i].strip() not in names:
            reason = f"emotion {emotion[i]!r} not in 0..6"
        elif usage[i].strip() not in USAGE_SPLITS:
            reason = f"Usage {usage[i]!r} not one of {', '.join(USAGE_SPLITS)}"
        elif status[i] != OK:
            reason = _pixel_reason(int(status[i]), int(counts[i]), int(bad[i]), FACE_PIXELS)
        if reason is not None:
            rejects.append((f"row {i + 1}", reason))
            keep[i] = False
    rows = np.flatnonzero(keep)
    original = [names[emotion[i].strip()][0] for i in rows]
    unified = [names[emotion[i].strip()][1] for i in rows]
    manifest = face_manifest(
        "fer2013",
        sample_ids=[f"fer2013-{i + 1:05d}" for i in rows],
        labels=list(unified),
        original_labels=list(original),
        splits=[USAGE_SPLITS[usage[i].strip()] for i in rows],
        images=images[rows],
        rows=(rows + 1).tolist(),
    )
    return manifest, rejects


def ingest_fer2013(
    *,
    archive: str | Path,
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    max_reject_fraction: float,
) -> None:
    """Ingest a FER2013 CSV into manifest, rejects and summary files."""
    table, malformed = read_fer_csv(archive)
    manifest, rejects = fer_csv_manifest(table)
    write_ingest(
        manifest,
        schema=FACE_MANIFEST,
        corpus="fer2013",
        archive=archive,
        sha256=file_sha256(archive),
        rejects=malformed + rejects,
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )


def is_tar(path: str | Path) -> bool:
    return str(path).lower().endswith((".tar.gz", ".tgz", ".tar"))


def is_fer_csv(path: str | Path) -> bool:
    """Whether ``path`` holds the CSV form (plain, gzip or tar) rather than image folders."""
    return str(path).lower().endswith((".csv", ".csv.gz")) or is_tar(path)
