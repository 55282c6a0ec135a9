import itertools
import stat
import zipfile

import pandas as pd
import pytest
from conftest import make_zip, wav_bytes

from emorec.corpora.ravdess import RavdessCode, ingest_ravdess, parse_ravdess_name, ravdess_row
from emorec.demo.ravdess import ravdess_grid
from emorec.errors import DataError
from emorec.tables import RAVDESS_MANIFEST, REJECTS


@pytest.mark.parametrize("modality", [1, 2, 3])
@pytest.mark.parametrize("channel", [1, 2])
@pytest.mark.parametrize("emotion", range(1, 9))
@pytest.mark.parametrize("intensity", [1, 2])
@pytest.mark.parametrize("actor", [1, 2, 17, 24])
def test_parse_every_valid_code(modality, channel, emotion, intensity, actor):
    name = (
        f"Actor_{actor:02d}/{modality:02d}-{channel:02d}-{emotion:02d}-{intensity:02d}-02-01-{actor:02d}.wav"
    )
    invalid = (emotion == 1 and intensity == 2) or (channel == 2 and emotion in (7, 8))
    if invalid:
        with pytest.raises(ValueError):
            parse_ravdess_name(name)
        return
    code = parse_ravdess_name(name)
    assert (code.modality, code.vocal_channel, code.emotion, code.intensity) == (
        modality,
        channel,
        emotion,
        intensity,
    )
    assert (code.statement, code.repetition, code.actor) == (2, 1, actor)
    assert code.sex == ("male" if actor % 2 else "female")
    assert code.stem == name.split("/")[1][:-4]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("03-01-09-01-01-01-01.wav", "emotion code 09"),
        ("03-01-00-01-01-01-01.wav", "emotion code 00"),
        ("04-01-01-01-01-01-01.wav", "modality code 04"),
        ("03-03-01-01-01-01-01.wav", "vocal_channel code 03"),
        ("03-01-02-03-01-01-01.wav", "intensity code 03"),
        ("03-01-02-01-03-01-01.wav", "statement code 03"),
        ("03-01-02-01-01-03-01.wav", "repetition code 03"),
        ("03-01-02-01-01-01-25.wav", "actor code 25"),
        ("03-01-01-02-01-01-01.wav", "neutral"),
        ("03-02-07-01-01-01-01.wav", "song"),
        ("03-02-08-01-01-01-01.wav", "song"),
        ("03-01-02-01-01-01.wav", "seven two-digit fields"),
        ("3-1-2-1-1-1-1.wav", "seven two-digit fields"),
        ("03-01-0a-01-01-01-01.wav", "seven two-digit fields"),
        ("readme.wav", "seven two-digit fields"),
    ],
)
def test_parse_rejects_invalid_codes(name, message):
    with pytest.raises(ValueError, match=message):
        parse_ravdess_name(name)


def test_row_checks_actor_folder():
    assert ravdess_row("Actor_03/03-01-05-02-01-01-03.wav")["speaker"] == "Actor_03"
    with pytest.raises(ValueError, match="does not match its folder Actor_04"):
        ravdess_row("Actor_04/03-01-05-02-01-01-03.wav")


def test_demo_grid_is_the_real_60_clip_grid():
    grid = ravdess_grid(5)
    assert len(grid) == len(set(grid)) == 60
    assert sum(c.emotion == 1 for c in grid) == 4
    assert all(sum(c.emotion == e for c in grid) == 8 for e in range(2, 9))
    assert all(isinstance(parse_ravdess_name(c.stem), RavdessCode) for c in grid)


def _ingest(tmp_path, archive, **overrides):
    args = dict(
        archive=archive,
        manifest_path=tmp_path / "m.parquet",
        rejects_path=tmp_path / "r.parquet",
        summary_path=tmp_path / "s.json",
        val_actors=[2],
        test_actors=[3],
        max_reject_fraction=0.5,
        max_compression_ratio=100,
    )
    args.update(overrides)
    ingest_ravdess(**args)
    return pd.read_parquet(args["manifest_path"]), pd.read_parquet(args["rejects_path"])


def test_bad_members_are_rejected_with_reasons_and_good_clips_kept(tmp_path):
    good = {
        f"Actor_{a:02d}/03-01-{e:02d}-01-01-01-{a:02d}.wav": wav_bytes(seed=a * 10 + e)
        for a, e in itertools.product((1, 2, 3), (1, 5))
    }
    good["Actor_01/03-01-03-01-01-02-01.wav"] = wav_bytes(channels=2, sample_rate=48000)
    bad = {
        "Actor_01/notes.txt": b"hello",
        "Actor_01/03-01-04-01-01-01-01.wav": b"RIFF but not really audio",
        "__MACOSX/Actor_01/._03-01-05-01-01-01-01.wav": b"\x00\x05\x16\x07",
        "Actor_02/03-01-09-01-01-01-02.wav": wav_bytes(),
        "Actor_01/01-01-05-02-01-01-01.mp4": b"\x00\x00\x00\x18ftypmp42",
        "Actor_02/02-02-03-01-01-01-02.mp4": b"\x00\x00\x00\x18ftypmp42",
    }
    archive = make_zip(tmp_path / "ravdess.zip", {**good, **bad})
    manifest, rejects = _ingest(tmp_path, archive)
    assert sorted(manifest["member"]) == sorted(good)
    assert sorted(rejects["item"]) == sorted(bad)
    reasons = dict(zip(rejects["item"], rejects["reason"]))
    assert "not a .wav" in reasons["Actor_01/notes.txt"]
    assert "not readable audio" in reasons["Actor_01/03-01-04-01-01-01-01.wav"]
    assert "macOS" in reasons["__MACOSX/Actor_01/._03-01-05-01-01-01-01.wav"]
    assert "emotion code 09" in reasons["Actor_02/03-01-09-01-01-01-02.wav"]
    assert reasons["Actor_01/01-01-05-02-01-01-01.mp4"].startswith("video (modality 01, full audio-video)")
    assert reasons["Actor_02/02-02-03-01-01-01-02.mp4"].startswith("video (modality 02, video-only)")
    assert set(manifest.columns) == set(RAVDESS_MANIFEST.names)
    assert set(rejects.columns) == set(REJECTS.names)
    assert dict(manifest.groupby("speaker")["split"].first()) == {
        "Actor_01": "train",
        "Actor_02": "val",
        "Actor_03": "test",
    }
    stereo = manifest.set_index("sample_id").loc["03-01-03-01-01-02-01"]
    assert (stereo.channels, stereo.sample_rate, stereo.label, stereo.sex) == (2, 48000, "happy", "male")
    assert set(manifest["label"]) == {"neutral", "angry", "happy"}


def test_unsafe_members_are_refused(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Actor_01/03-01-01-01-01-01-01.wav", wav_bytes())
        archive.writestr("/abs/03-01-01-01-01-02-01.wav", wav_bytes())
        archive.writestr("Actor_01/../../03-01-01-01-02-01-01.wav", wav_bytes())
        link = zipfile.ZipInfo("Actor_01/03-01-01-01-02-02-01.wav")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("Actor_01/03-01-02-01-01-01-01.wav", b"\x00" * 5_000_000)  # ratio ~1000
    manifest, rejects = _ingest(tmp_path, path, max_reject_fraction=1.0)
    assert list(manifest["sample_id"]) == ["03-01-01-01-01-01-01"]
    reasons = sorted(rejects["reason"])
    assert any("absolute path" in r for r in reasons)
    assert any("'..'" in r for r in reasons)
    assert any("symbolic link" in r for r in reasons)
    assert any("compression ratio" in r for r in reasons)
    assert not (tmp_path / "abs").exists() and not (tmp_path.parent / "03-01-01-01-02-01-01.wav").exists()


def test_too_many_rejects_fail_naming_the_archive(tmp_path):
    archive = make_zip(
        tmp_path / "wrong.zip",
        {"a.txt": b"x", "b.txt": b"y", "Actor_01/03-01-01-01-01-01-01.wav": wav_bytes()},
    )
    with pytest.raises(DataError, match=r"wrong\.zip: 2 of 3 .*rejected"):
        _ingest(tmp_path, archive, max_reject_fraction=0.05)


def test_missing_and_corrupt_archives_fail_clearly(tmp_path):
    with pytest.raises(DataError, match=r"archive not found: .*nowhere\.zip.*demo"):
        _ingest(tmp_path, tmp_path / "nowhere.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(
        make_zip(tmp_path / "full.zip", {"Actor_01/03-01-01-01-01-01-01.wav": wav_bytes()}).read_bytes()[:-30]
    )
    with pytest.raises(DataError, match="truncated"):
        _ingest(tmp_path, truncated)


def test_folder_archives_are_read_like_zips(tmp_path):
    root = tmp_path / "Audio_Speech"
    (root / "Actor_01").mkdir(parents=True)
    (root / "Actor_01" / "03-01-01-01-01-01-01.wav").write_bytes(wav_bytes())
    (root / "Actor_01" / "03-01-02-01-01-01-01.wav").symlink_to("/etc/hostname")
    manifest, rejects = _ingest(tmp_path, root, max_reject_fraction=1.0)
    assert list(manifest["member"]) == ["Actor_01/03-01-01-01-01-01-01.wav"]
    assert list(rejects["reason"]) == ["symbolic link"]
