"""Face-image sets declared in the params alone (kind image_folders): labels from folders,
splits from folders or stratified shares, faces found or taken as crops, hostile members
rejected with their reason and nothing lost."""

import io
import json
import zlib

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import make_zip
from PIL import Image

from emorec.corpora.image_folders import ingest_image_folders
from emorec.demo.fer2013 import render_face
from emorec.errors import DataError, ParamsError
from emorec.params import load_params

LABELS = {"Happy": "happy", "sad": "sad", "contempt": None}


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header (with a valid checksum) declares ``width`` x ``height``."""
    data = bytearray(png(np.zeros((2, 2), np.uint8)))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")  # IHDR's first fields
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def face(code: int, i: int, side: int = 96) -> bytes:
    """A demo face (code 3 happy, 4 sad), upscaled to ``side`` x ``side`` and in colour."""
    gray = render_face(code, np.random.default_rng([code, i]))
    big = np.asarray(Image.fromarray(gray).resize((side, side)))
    return png(np.stack([big] * 3, axis=-1))


def ingest(tmp_path, members: dict[str, bytes], max_reject_fraction: float = 0.5, **spec):
    archive = make_zip(tmp_path / "faces.zip", members)
    out = {
        k: tmp_path / f"{k}.{ext}"
        for k, ext in (("manifest", "parquet"), ("rejects", "parquet"), ("summary", "json"))
    }
    ingest_image_folders(
        corpus="myfaces",
        spec={"kind": "image_folders", "archive": str(archive), "labels": LABELS, **spec},
        manifest_path=out["manifest"],
        rejects_path=out["rejects"],
        summary_path=out["summary"],
        max_reject_fraction=max_reject_fraction,
        max_compression_ratio=100,
    )
    return (
        pq.read_table(out["manifest"]).to_pandas(),
        dict(zip(*pq.read_table(out["rejects"]).select(["item", "reason"]).to_pydict().values())),
        json.loads(out["summary"].read_text()),
    )


def test_labels_come_from_folders_and_splits_from_named_folders(tmp_path):
    members = {
        **{f"set/train/Happy/{i}.png": face(3, i) for i in range(10)},
        **{f"set/train/sad/{i}.png": face(4, i) for i in range(10)},
        **{f"set/test/HAPPY/{i}.png": face(3, 100 + i) for i in range(3)},
        "set/test/contempt/0.png": face(0, 0),
    }
    manifest, rejects, summary = ingest(tmp_path, members, splits={"train": "train", "test": "test"})
    assert len(manifest) == 23 and set(manifest["corpus"]) == {"myfaces"}
    assert manifest.groupby("split").size().to_dict() == {
        "test": 3,
        "train": 18,
        "val": 2,
    }  # 10% of each class
    assert set(manifest[manifest["split"] == "val"]["label"]) == {"happy", "sad"}
    assert set(manifest[manifest["split"] == "test"]["original_label"]) == {"HAPPY"}
    assert rejects == {"set/test/contempt/0.png": "not used (folder 'contempt' is mapped to null)"}
    assert summary["reject_reasons"] == {"not used": 1}
    assert {len(p) for p in manifest["pixels"]} == {2304}  # 96x96 colour -> 48x48 grey
    expected = np.asarray(Image.open(io.BytesIO(face(3, 0))).convert("L").resize((48, 48), Image.BOX))
    first = manifest.set_index("sample_id").loc["myfaces-set-train-happy-0", "pixels"]
    assert np.abs(np.frombuffer(first, np.uint8).astype(int) - expected.ravel().astype(int)).max() <= 2


def test_without_split_folders_shares_are_stratified_and_seeded(tmp_path):
    members = {f"{e}/{i}.png": face(c, i, 48) for e, c in (("Happy", 3), ("sad", 4)) for i in range(20)}
    a, _, _ = ingest(tmp_path, members, test_fraction=0.25, val_fraction=0.2, split_seed=3)
    assert a.groupby(["split", "label"]).size().to_dict() == {
        ("test", "happy"): 5,
        ("test", "sad"): 5,
        ("train", "happy"): 12,
        ("train", "sad"): 12,
        ("val", "happy"): 3,
        ("val", "sad"): 3,
    }
    b, _, _ = ingest(tmp_path, members, test_fraction=0.25, val_fraction=0.2, split_seed=3)
    assert a["split"].tolist() == b["split"].tolist()
    everything, _, _ = ingest(tmp_path, members, splits="test")
    assert set(everything["split"]) == {"test"}  # a pure cross-corpus test set


def test_hostile_members_are_rejects_with_their_reason_and_nothing_is_lost(tmp_path):
    members = {
        **{f"train/Happy/{i}.png": face(3, i) for i in range(4)},
        "train/Happy/broken.png": b"\x89PNG\r\n\x1a\n not really",
        "train/angry/0.png": face(0, 0),  # a folder outside the labels map
        "Happy/orphan.png": face(3, 9),  # no split folder above it
        "train/Happy/notes.txt": b"hello",
        "loose.png": face(3, 8),
        "train/Happy/huge.png": png_claiming(8000, 6000),  # 48 M pixels, by its header
    }
    manifest, rejects, _ = ingest(tmp_path, members, splits={"train": "train"}, max_reject_fraction=0.9)
    assert len(manifest) + len(rejects) == len(members)
    assert "not a decodable image" in rejects["train/Happy/broken.png"]
    assert rejects["train/angry/0.png"].startswith("folder 'angry' is not in labels")
    assert rejects["Happy/orphan.png"] == "no split folder above it (one of train)"
    assert rejects["train/Happy/notes.txt"] == "not an image (suffix '.txt')"
    assert rejects["loose.png"] == "not inside an emotion folder"
    assert "over 40,000,000 pixels" in rejects["train/Happy/huge.png"]
    with pytest.raises(DataError, match="rejected"):
        ingest(tmp_path, members, splits={"train": "train"}, max_reject_fraction=0.05)


def test_find_faces_rejects_an_image_without_a_face(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8)
    members = {"Happy/noise.png": png(noise), **{f"Happy/{i}.png": face(3, i) for i in range(3)}}
    with pytest.raises(DataError):  # the demo's drawn faces are no faces to a Haar cascade either
        ingest(tmp_path, members, find_faces=True, max_reject_fraction=0.0)
    rejects = dict(
        zip(*pq.read_table(tmp_path / "rejects.parquet").select(["item", "reason"]).to_pydict().values())
    )
    assert rejects["Happy/noise.png"] == "no face found in the 320x240 image"


def write_yaml(tmp_path, text: str):
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "corpora: {faces: [fer2013, myfaces]}",
            "corpora.faces lists 'myfaces' but corpora.myfaces is neither",
        ),
        (
            "corpora: {myfaces: {kind: image_folders, archive: x.zip, labels: {Happy: joy}}}",
            "corpora.myfaces.labels.Happy",
        ),
        (
            "corpora: {myfaces: {kind: image_folders, archive: x.zip, labels: {a: happy}, splits: {train: training}}}",
            "corpora.myfaces.splits",
        ),
        (
            "corpora: {speech: [ravdess, myfaces], myfaces: {kind: image_folders, archive: x.zip, labels: {a: happy}}}",
            "corpora.speech lists 'myfaces', a face-image set",
        ),
    ],
)
def test_bad_face_set_params_fail_naming_the_key(tmp_path, extra, message):
    from conftest import REPO

    with pytest.raises(ParamsError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_params(REPO / "params.yaml", (write_yaml(tmp_path, extra),))


def test_a_declared_face_set_passes_validation(tmp_path):
    from conftest import REPO

    extra = "corpora: {faces: [fer2013, myfaces], myfaces: {kind: image_folders, archive: x.zip, labels: {a: happy, b: null}, splits: test, find_faces: true}}"
    params = load_params(REPO / "params.yaml", (write_yaml(tmp_path, extra),))
    assert params["corpora"]["faces"] == ["fer2013", "myfaces"]
