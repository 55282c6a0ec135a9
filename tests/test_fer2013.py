import gzip
import io
import tarfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from emorec.corpora.fer2013 import BAD_CHAR, OK, TOO_LARGE, WRONG_COUNT, ingest_fer2013, parse_pixel_strings
from emorec.errors import DataError
from emorec.tables import FACE_MANIFEST, FACE_PIXELS


def pixel_string(values) -> str:
    return " ".join(str(int(v)) for v in values)


@pytest.mark.parametrize("width", [1, 4, FACE_PIXELS])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parse_round_trips_random_images(width, seed):
    images = np.random.default_rng(seed).integers(0, 256, size=(17, width), dtype=np.uint8)
    parsed, status, counts, _ = parse_pixel_strings(pa.array([pixel_string(r) for r in images]), width=width)
    np.testing.assert_array_equal(parsed, images)
    assert (status == OK).all() and (counts == width).all()


@pytest.mark.parametrize(
    ("text", "status", "count", "bad"),
    [
        ("1 2 3", OK, 3, 0),
        ("  1  2\t3 ", OK, 3, 0),
        ("1 2", WRONG_COUNT, 2, 0),
        ("1 2 3 4", WRONG_COUNT, 4, 0),
        ("", WRONG_COUNT, 0, 0),
        ("1 300 3", TOO_LARGE, 3, 300),
        ("1 2 256", TOO_LARGE, 3, 256),
        ("1 99999999999 3", TOO_LARGE, 3, 1000),
        ("1 -2 3", BAD_CHAR, 3, ord("-")),
        ("1 2.5 3", BAD_CHAR, 3, ord(".")),
    ],
)
def test_parse_flags_bad_rows(text, status, count, bad):
    _, st, counts, bads = parse_pixel_strings(pa.array([text]), width=3)
    assert (st[0], counts[0], bads[0]) == (status, count, bad)


def test_parse_handles_sliced_and_chunked_arrays():
    strings = [pixel_string([i, i + 1]) for i in range(10)]
    sliced = pa.array(strings).slice(3, 4)
    parsed, _, _, _ = parse_pixel_strings(sliced, width=2)
    np.testing.assert_array_equal(parsed[:, 0], [3, 4, 5, 6])
    parsed, _, _, _ = parse_pixel_strings(pa.chunked_array([strings[:4], strings[4:]]), width=2)
    np.testing.assert_array_equal(parsed[:, 1], np.arange(1, 11))


def write_csv(path, rows, *, gz=False, tar=False):
    text = "emotion,pixels,Usage\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    if tar:  # as Kaggle shipped it: fer2013.tar.gz holding fer2013/fer2013.csv
        data = text.encode()
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo("fer2013/fer2013.csv")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    elif gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _ingest(tmp_path, csv, max_reject_fraction=1.0):
    ingest_fer2013(
        archive=csv,
        manifest_path=tmp_path / "m.parquet",
        rejects_path=tmp_path / "r.parquet",
        summary_path=tmp_path / "s.json",
        max_reject_fraction=max_reject_fraction,
    )
    return pd.read_parquet(tmp_path / "m.parquet"), pd.read_parquet(tmp_path / "r.parquet")


@pytest.mark.parametrize("form", ["csv", "csv.gz", "tar.gz"])
def test_ingest_keeps_good_rows_and_rejects_bad_ones(tmp_path, form):
    rng = np.random.default_rng(0)
    good = pixel_string(rng.integers(0, 256, FACE_PIXELS))
    rows = [
        (3, good, "Training"),
        (0, pixel_string(np.arange(FACE_PIXELS - 1) % 256), "Training"),  # 2303 pixels
        (6, pixel_string([300] + [7] * (FACE_PIXELS - 1)), "PublicTest"),
        (2, good, "PrivateTest"),
        (9, good, "Training"),
        (5, good, "Validation"),
        (6, good, "PublicTest"),
    ]
    manifest, rejects = _ingest(
        tmp_path, write_csv(tmp_path / f"fer2013.{form}", rows, gz=form == "csv.gz", tar=form == "tar.gz")
    )
    assert list(manifest["row"]) == [1, 4, 7]
    assert list(manifest["split"]) == ["train", "test", "val"]
    assert list(manifest["label"]) == ["happy", "fearful", "neutral"]
    assert list(manifest["original_label"]) == ["happy", "fear", "neutral"]
    reasons = dict(zip(rejects["item"], rejects["reason"]))
    assert reasons["row 2"] == f"pixels: {FACE_PIXELS - 1} values, expected {FACE_PIXELS}"
    assert "value 300 outside 0..255" in reasons["row 3"]
    assert "emotion '9'" in reasons["row 5"]
    assert "Usage 'Validation'" in reasons["row 6"]
    assert len(manifest) + len(rejects) == len(rows)
    assert list(manifest.columns) == FACE_MANIFEST.names
    np.testing.assert_array_equal(
        np.frombuffer(manifest["pixels"][0], np.uint8), np.array(good.split(), dtype=np.uint8)
    )


def test_missing_columns_and_files_fail_clearly(tmp_path):
    (tmp_path / "bad.csv").write_text("label,image\n1,2\n")
    with pytest.raises(DataError, match=r"bad\.csv.*emotion,pixels,Usage"):
        _ingest(tmp_path, tmp_path / "bad.csv")
    with pytest.raises(DataError, match="archive not found"):
        _ingest(tmp_path, tmp_path / "absent.csv")


def test_tar_without_one_csv_fails_naming_it(tmp_path):
    with tarfile.open(tmp_path / "fer2013.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("README.txt")
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(DataError, match=r"fer2013\.tar\.gz: expected one \.csv file"):
        _ingest(tmp_path, tmp_path / "fer2013.tar.gz")
