"""TESS, SAVEE and CREMA-D names, and ingest of the real TESS and SAVEE samples."""

import json
from pathlib import PurePosixPath

import pyarrow.parquet as pq
import pytest
from conftest import make_zip, wav_bytes

from emorec.corpora.speech import NAMED_MANIFEST, ingest_speech_corpus
from emorec.corpora.speech_names import cremad_sexes, parse_cremad_name, parse_savee_name, parse_tess_name


@pytest.mark.parametrize(
    ("name", "label", "speaker"),
    [
        ("OAF_Fear/OAF_back_fear.wav", "fearful", "tess-OAF"),
        ("OAF_Pleasant_surprise/OAF_bar_ps.wav", "surprised", "tess-OAF"),
        ("YAF_pleasant_surprised/YAF_back_ps.wav", "surprised", "tess-YAF"),
        ("TESS Toronto emotional speech set data/YAF_sad/YAF_bar_sad.wav", "sad", "tess-YAF"),
        ("OAF_neutral/OAF_back_neutral.wav", "neutral", "tess-OAF"),
    ],
)
def test_tess_names(name, label, speaker):
    row = parse_tess_name(name)
    assert (row["label"], row["speaker"], row["sex"], row["inferred"]) == (label, speaker, "female", "")


def test_tess_name_short_of_the_pattern_takes_the_speaker_from_its_folder():
    # the full release has OAF_neutral/OA_bite_neutral.wav: the speaker prefix is cut short
    row = parse_tess_name("TESS Toronto emotional speech set data/OAF_neutral/OA_bite_neutral.wav")
    assert (row["speaker"], row["label"], row["sample_id"]) == (
        "tess-OAF",
        "neutral",
        "tess-OAF-bite-neutral",
    )
    assert row["inferred"] == "speaker OAF from folder 'OAF_neutral' (file prefix 'OA')"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("OAF_angry/OAF_back.wav", "is not"),
        ("OAF_angry/OAF_back_bored.wav", "unknown TESS emotion 'bored'"),
        ("YAF_angry/OAF_back_angry.wav", "does not match its folder"),
        ("YAF_neutral/OA_bite_neutral.wav", "names no speaker it abbreviates"),
        ("OA_bite_neutral.wav", "names no speaker it abbreviates"),
    ],
)
def test_bad_tess_names(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_tess_name(name)


@pytest.mark.parametrize(
    ("name", "label", "speaker", "sample_id"),
    [
        ("ALL/DC_a01.wav", "angry", "savee-DC", "savee-DC-a01"),
        ("ALL/JK_sa15.wav", "sad", "savee-JK", "savee-JK-sa15"),
        ("ALL/KL_su02.wav", "surprised", "savee-KL", "savee-KL-su02"),
        ("AudioData/JE/n30.wav", "neutral", "savee-JE", "savee-JE-n30"),
        ("DC/f03.wav", "fearful", "savee-DC", "savee-DC-f03"),
    ],
)
def test_savee_names_flat_and_per_speaker(name, label, speaker, sample_id):
    row = parse_savee_name(name)
    assert (row["label"], row["speaker"], row["sample_id"], row["sex"]) == (label, speaker, sample_id, "male")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ALL/XY_a01.wav", "unknown SAVEE speaker"),
        ("ALL/DC_x01.wav", "unknown SAVEE emotion"),
        ("misc/a01.wav", "neither"),
    ],
)
def test_bad_savee_names(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_savee_name(name)


def test_cremad_names_and_demographics():
    sexes = cremad_sexes(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n"
    )
    assert sexes == {"1001": "male", "1002": "female"}
    row = parse_cremad_name("AudioWAV/1002_DFA_ANG_XX.wav", sexes=sexes)
    assert (row["label"], row["speaker"], row["sex"], row["original_label"]) == (
        "angry",
        "cremad-1002",
        "female",
        "ANG",
    )
    assert parse_cremad_name("AudioWAV/1090_IEO_HAP_HI.wav")["sex"] == "unknown"
    for bad, reason in [
        ("1001_DFA_BOR_XX.wav", "unknown CREMA-D emotion"),
        ("1001_DFA_ANG_ZZ.wav", "intensity"),
        ("0999_DFA_ANG_XX.wav", "outside"),
        ("1001_DFA.wav", "is not"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_cremad_name(bad)


def ingest(tmp_path, corpus, archive, **split):
    out = {
        k: tmp_path / f"{k}.{ext}"
        for k, ext in (("manifest", "parquet"), ("rejects", "parquet"), ("summary", "json"))
    }
    ingest_speech_corpus(
        corpus=corpus,
        archive=archive,
        manifest_path=out["manifest"],
        rejects_path=out["rejects"],
        summary_path=out["summary"],
        max_reject_fraction=0.5,
        max_compression_ratio=100,
        val_speakers=split.get("val", []),
        test_speakers=split.get("test", []),
    )
    return (
        pq.read_table(out["manifest"]),
        pq.read_table(out["rejects"]),
        json.loads(out["summary"].read_text()),
    )


def test_cremad_archive_uses_demographics_and_rejects_with_reasons(tmp_path):
    archive = make_zip(
        tmp_path / "crema.zip",
        {
            "CREMA-D/VideoDemographics.csv": b"ActorID,Age,Sex\n1001,51,Male\n1002,21,Female\n",
            "CREMA-D/AudioWAV/1001_DFA_ANG_XX.wav": wav_bytes(seed=1),
            "CREMA-D/AudioWAV/1002_IEO_SAD_LO.wav": wav_bytes(seed=2),
            "CREMA-D/AudioWAV/1002_IEO_XYZ_LO.wav": wav_bytes(seed=3),
        },
    )
    manifest, rejects, summary = ingest(tmp_path, "cremad", archive, test=["1002"])
    assert manifest.schema.equals(NAMED_MANIFEST)
    rows = {r["sample_id"]: r for r in manifest.to_pylist()}
    assert (
        rows["cremad-1001-DFA_ANG_XX"]["sex"] == "male" and rows["cremad-1001-DFA_ANG_XX"]["split"] == "train"
    )
    assert (
        rows["cremad-1002-IEO_SAD_LO"]["sex"] == "female"
        and rows["cremad-1002-IEO_SAD_LO"]["split"] == "test"
    )
    reasons = dict(zip(rejects.column("item").to_pylist(), rejects.column("reason").to_pylist()))
    assert "unknown CREMA-D emotion 'XYZ'" in reasons["CREMA-D/AudioWAV/1002_IEO_XYZ_LO.wav"]
    assert "not a .wav file" in reasons["CREMA-D/VideoDemographics.csv"]
    assert summary["samples"] + summary["rejects"] == 4


@pytest.mark.realdata
def test_real_tess_sample(shared_data, tmp_path):
    manifest, rejects, summary = ingest(
        tmp_path, "tess", shared_data / "tess" / "tess_sample.zip", test=["YAF"]
    )
    assert manifest.num_rows == 28 and rejects.num_rows == 0
    rows = manifest.to_pylist()
    assert {r["speaker"] for r in rows} == {"tess-OAF", "tess-YAF"} and {r["sex"] for r in rows} == {"female"}
    assert summary["labels"] == {
        label: 4 for label in ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
    }
    for r in rows:  # the label always agrees with the folder, whatever its spelling
        folder = r["member"].split("/")[0].lower()
        assert r["original_label"] in folder or (r["original_label"] == "ps" and "surprise" in folder)
        assert r["split"] == ("test" if r["speaker"] == "tess-YAF" else "train")
        assert r["sample_rate"] == 24414


@pytest.mark.realdata
def test_real_tess_with_the_release_misnamed_file_ingests_every_file(shared_data, tmp_path):
    """The full release's ``OAF_neutral/OA_bite_neutral.wav`` (a real clip under that name)."""
    import zipfile

    with zipfile.ZipFile(shared_data / "tess" / "tess_sample.zip") as source:
        members = {n: source.read(n) for n in source.namelist() if not n.endswith("/")}
    neutral = next(n for n in members if "OAF_neutral/" in n)
    members[neutral.replace(PurePosixPath(neutral).name, "OA_bite_neutral.wav")] = members[neutral]
    manifest, rejects, summary = ingest(
        tmp_path, "tess", make_zip(tmp_path / "tess.zip", members), test=["YAF"]
    )
    assert rejects.num_rows == 0 and manifest.num_rows == 29 == summary["samples"]
    inferred = [r for r in manifest.to_pylist() if r["inferred"]]
    assert [(r["sample_id"], r["speaker"], r["label"]) for r in inferred] == [
        ("tess-OAF-bite-neutral", "tess-OAF", "neutral")
    ]
    assert inferred[0]["inferred"].startswith("speaker OAF from folder")


@pytest.mark.realdata
def test_real_savee_sample(shared_data, tmp_path):
    manifest, rejects, summary = ingest(
        tmp_path, "savee", shared_data / "savee" / "savee_sample.zip", val=["JK"]
    )
    assert manifest.num_rows == 28 and rejects.num_rows == 0
    rows = manifest.to_pylist()
    assert {r["speaker"] for r in rows} == {"savee-DC", "savee-JK"} and {r["sex"] for r in rows} == {"male"}
    assert summary["labels"] == {
        label: 4 for label in ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
    }
    assert summary["splits"] == {"train": 14, "val": 14}
    assert all(r["sample_rate"] == 44100 for r in rows)
