"""FER2013 image folders: layout, Usage-named and carved splits, rejects, real counts."""

import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import make_zip
from PIL import Image

from emorec.corpora.fer2013_images import carve_validation, ingest_fer2013_images, parse_image_member
from emorec.tables import FACE_MANIFEST


def jpeg(value: int, size: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size), value, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def ingest(tmp_path, archive, **kw):
    out = {
        k: tmp_path / f"{k}.{e}"
        for k, e in (("manifest", "parquet"), ("rejects", "parquet"), ("summary", "json"))
    }
    ingest_fer2013_images(
        archive=archive,
        manifest_path=out["manifest"],
        rejects_path=out["rejects"],
        summary_path=out["summary"],
        val_fraction=kw.get("val_fraction", 0.25),
        split_seed=1,
        max_reject_fraction=kw.get("max_reject_fraction", 0.5),
        max_compression_ratio=100,
    )
    return (
        pq.read_table(out["manifest"]),
        pq.read_table(out["rejects"]),
        json.loads(out["summary"].read_text()),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("train/happy/Training_1.jpg", ("train", "happy", "train")),
        ("fer/test/fear/PublicTest_2.jpg", ("test", "fear", "val")),
        ("test/surprise/PrivateTest_3.jpg", ("test", "surprise", "test")),
        ("train/sad/img_4.jpg", ("train", "sad", None)),
    ],
)
def test_member_layout(name, expected):
    assert parse_image_member(name) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("happy/x.jpg", "not inside"),
        ("valid/happy/x.jpg", "neither train nor test"),
        ("train/bored/x.jpg", "emotion folder 'bored'"),
    ],
)
def test_bad_layouts(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_image_member(name)


def test_carved_validation_is_stratified_and_seeded():
    labels = np.array(["a"] * 80 + ["b"] * 20, dtype=object)
    chosen = carve_validation(labels, np.arange(100), fraction=0.1, seed=3)
    assert (labels[chosen] == "a").sum() == 8 and (labels[chosen] == "b").sum() == 2
    np.testing.assert_array_equal(chosen, carve_validation(labels, np.arange(100), fraction=0.1, seed=3))


def test_every_member_is_a_row_or_a_reject(tmp_path):
    members = {f"train/happy/img_{i}.jpg": jpeg(i) for i in range(8)}
    members |= {f"train/sad/img_{i}.jpg": jpeg(100 + i) for i in range(4)}
    members |= {
        "test/angry/img_0.jpg": jpeg(200),
        "train/sad/img_0.jpg.txt": b"note",
        "train/happy/big.jpg": jpeg(5, 64),
        "train/happy/broken.jpg": b"\xff\xd8 not a jpeg",
        "train/bored/img_9.jpg": jpeg(9),
        "__MACOSX/train/._a.jpg": b"x",
    }
    manifest, rejects, summary = ingest(tmp_path, make_zip(tmp_path / "faces.zip", members))
    assert manifest.schema.equals(FACE_MANIFEST)
    assert manifest.num_rows + rejects.num_rows == len(members)
    reasons = " | ".join(rejects.column("reason").to_pylist())
    for expected in (
        "not an image",
        "image is 64x64",
        "not a decodable image",
        "emotion folder 'bored'",
        "macOS",
    ):
        assert expected in reasons
    assert summary["splits"] == {"test": 1, "train": 9, "val": 3}  # 25% of happy (2) and sad (1)
    row = manifest.filter(
        manifest.column("sample_id").to_numpy(zero_copy_only=False) == "fer2013-test-angry-img_0"
    ).to_pylist()[0]
    assert row["label"] == "angry" and row["split"] == "test" and row["row"] is None
    assert abs(int(np.frombuffer(row["pixels"], np.uint8).mean()) - 200) <= 2


@pytest.mark.realdata
def test_real_fer2013_image_zip(shared_data, tmp_path):
    manifest, rejects, summary = ingest(
        tmp_path, shared_data / "fer2013" / "fer2013_images.zip", max_reject_fraction=0.0
    )
    assert rejects.num_rows == 0 and manifest.num_rows == 35887
    assert summary["splits"] == {"train": 28709, "val": 3589, "test": 3589}
    counts = manifest.group_by(["split", "original_label"]).aggregate([("sample_id", "count")]).to_pylist()
    got = {(c["split"], c["original_label"]): c["sample_id_count"] for c in counts}
    official = {  # FER2013 per-class counts: Training / PublicTest / PrivateTest
        "angry": (3995, 467, 491),
        "disgust": (436, 56, 55),
        "fear": (4097, 496, 528),
        "happy": (7215, 895, 879),
        "sad": (4830, 653, 594),
        "surprise": (3171, 415, 416),
        "neutral": (4965, 607, 626),
    }
    for emotion, per_split in official.items():
        assert tuple(got[(s, emotion)] for s in ("train", "val", "test")) == per_split, emotion
