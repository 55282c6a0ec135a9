"""Speech corpora declared in the params alone (kind: pattern / manifest), on archives built
here, and the shipped TESS, SAVEE and CREMA-D patterns against their own parsers."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, make_zip, wav_bytes

from emorec.corpora.speech import ingest_speech_corpus
from emorec.errors import DataError, ParamsError
from emorec.params import load_params, validate_params

EMODB_LIKE = {
    "kind": "pattern",
    "pattern": r"(?P<speaker>\d*)[ab]\d\d(?P<label>[A-Z])(?P<take>[a-z])\.wav",
    "labels": {
        "W": "angry",
        "L": None,
        "E": "disgust",
        "A": "fearful",
        "F": "happy",
        "T": "sad",
        "N": "neutral",
    },
    "sex": {"03": "male", "09": "female"},
    "val_speakers": [],
    "test_speakers": ["09"],
}


def ingest(
    tmp_path: Path, archive: Path, spec: dict, name: str = "mine", **limits
) -> tuple[list, list, dict]:
    """Ingest ``archive`` as corpus ``name`` with params ``spec``: manifest rows, rejects, summary."""
    out = tmp_path / "out"
    ingest_speech_corpus(
        corpus=name,
        archive=archive,
        manifest_path=out / "manifest.parquet",
        rejects_path=out / "rejects.parquet",
        summary_path=out / "summary.json",
        val_speakers=[str(s) for s in spec["val_speakers"]],
        test_speakers=[str(s) for s in spec["test_speakers"]],
        max_reject_fraction=limits.get("max_reject_fraction", 0.9),
        max_compression_ratio=100,
        spec=spec,
    )
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    rejects = [(r["item"], r["reason"]) for r in pq.read_table(out / "rejects.parquet").to_pylist()]
    return rows, rejects, json.loads((out / "summary.json").read_text())


def test_a_pattern_corpus_becomes_rows_and_every_other_member_a_reject_with_its_reason(tmp_path):
    archive = make_zip(
        tmp_path / "emodb.zip",
        {
            "wav/03a01Wa.wav": wav_bytes(seed=1),
            "wav/03a02Fb.wav": wav_bytes(seed=2),
            "wav/09b01Tc.wav": wav_bytes(seed=3),
            "wav/09b02Na.wav": wav_bytes(seed=4),
            "wav/09b03La.wav": wav_bytes(seed=5),  # boredom: mapped to null
            "wav/09b04Xa.wav": wav_bytes(seed=6),  # a label the pattern does not know
            "wav/a05Wa.wav": wav_bytes(seed=7),  # no speaker
            "wav/readme.wav": wav_bytes(seed=8),  # matches nothing
            "wav/03a06Wa.wav": b"not audio at all",
            "notes.txt": b"hello",
        },
    )
    rows, rejects, summary = ingest(tmp_path, archive, {**EMODB_LIKE, "archive": str(archive)})
    assert [
        (r["sample_id"], r["speaker"], r["label"], r["original_label"], r["sex"], r["split"]) for r in rows
    ] == [
        ("mine-03-03a01Wa", "mine-03", "angry", "W", "male", "train"),
        ("mine-03-03a02Fb", "mine-03", "happy", "F", "male", "train"),
        ("mine-09-09b01Tc", "mine-09", "sad", "T", "female", "test"),
        ("mine-09-09b02Na", "mine-09", "neutral", "N", "female", "test"),
    ]
    assert [r["take"] for r in rows] == ["a", "b", "c", "a"]  # another named group: kept as a column
    reasons = dict(rejects)
    assert reasons["wav/09b03La.wav"].startswith("not used (")
    assert reasons["wav/09b04Xa.wav"] == "unparseable name: label not in corpora.mine.labels ('X')"
    assert "empty speaker" in reasons["wav/a05Wa.wav"]
    assert reasons["wav/readme.wav"] == "unparseable name: matches no corpora.mine.pattern ('readme.wav')"
    assert "wav/03a06Wa.wav" in reasons and "notes.txt" in reasons
    assert len(rows) + len(rejects) == 10  # every member in exactly one of them
    assert summary["reject_reasons"]["not used"] == 1
    assert summary["reject_reasons"]["unparseable name: label not in corpora.mine.labels"] == 1


def test_members_left_out_on_purpose_do_not_count_against_the_reject_limit(tmp_path):
    members = {
        f"{s}a0{i}{'L' if i < 3 else 'W'}a.wav": wav_bytes(seed=i) for s in ("03", "09") for i in range(1, 6)
    }
    archive = make_zip(tmp_path / "emodb.zip", members)
    rows, rejects, _ = ingest(
        tmp_path, archive, {**EMODB_LIKE, "archive": str(archive)}, max_reject_fraction=0.0
    )
    assert len(rows) == 6 and len(rejects) == 4
    members["03a09Xa.wav"] = wav_bytes(seed=9)  # one unusable member is over a 0 % limit
    archive = make_zip(tmp_path / "emodb2.zip", members)
    with pytest.raises(DataError, match=r"1 of 7 members or rows rejected"):
        ingest(tmp_path, archive, {**EMODB_LIKE, "archive": str(archive)}, max_reject_fraction=0.0)


def test_a_manifest_corpus_follows_its_csv_and_names_every_bad_row(tmp_path):
    csv = (
        "path,label,speaker,sex,split\n"
        "clips/a.wav,ang,s1,F,\n"
        "clips/b.wav,hap,s1,f,\n"
        "clips/c.wav,neu,s2,m,val\n"
        "clips/d.wav,sad,s3,,\n"
        "clips/gone.wav,sad,s3,,\n"  # line 6: no such file
        "clips/a.wav,sad,s1,,\n"  # line 7: duplicate path
        "clips/e.wav,sad,,,\n"  # line 8: empty speaker
        "clips/f.wav,xyz,s3,,\n"  # a label outside the map
        "clips/g.wav,sad,s3,,later\n"  # line 10: bad split
    )
    members = {f"corpus/clips/{c}.wav": wav_bytes(seed=i) for i, c in enumerate("abcdefgh")}
    archive = make_zip(tmp_path / "mine.zip", {**members, "corpus/labels.csv": csv.encode()})
    spec = {
        "kind": "manifest",
        "archive": str(archive),
        "manifest": "corpus/labels.csv",
        "labels": {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"},
        "val_speakers": [],
        "test_speakers": ["s3"],
    }
    rows, rejects, _ = ingest(tmp_path, archive, spec)
    assert [(r["member"], r["label"], r["speaker"], r["sex"], r["split"]) for r in rows] == [
        ("corpus/clips/a.wav", "angry", "mine-s1", "female", "train"),
        ("corpus/clips/b.wav", "happy", "mine-s1", "female", "train"),
        ("corpus/clips/c.wav", "neutral", "mine-s2", "male", "val"),  # the CSV's split wins
        ("corpus/clips/d.wav", "sad", "mine-s3", "unknown", "test"),
    ]
    reasons = dict(rejects)
    assert reasons["corpus/labels.csv:6"] == "file not in the archive (clips/gone.wav)"
    assert reasons["corpus/labels.csv:7"] == "duplicate path clips/a.wav (first at line 2)"
    assert "split 'later'" in reasons["corpus/labels.csv:10"]
    assert "empty speaker" in reasons["corpus/clips/e.wav"]
    assert "label not in corpora.mine.labels ('xyz')" in reasons["corpus/clips/f.wav"]
    assert "not listed in the manifest" in reasons["corpus/clips/g.wav"]
    assert reasons["corpus/clips/h.wav"] == "unparseable name: not listed in the manifest (corpus/labels.csv)"
    assert reasons["corpus/labels.csv"].startswith("not used")
    with pytest.raises(DataError, match=r"corpora\.mine\.manifest: nope\.csv is neither in"):
        ingest(tmp_path, archive, {**spec, "manifest": "nope.csv"})


def test_a_bad_declaration_fails_at_start_up_naming_the_key():
    params = load_params(REPO / "params.yaml")
    params["corpora"]["speech"] = ["ravdess", "emodb"]
    params["corpora"]["emodb"] = {**EMODB_LIKE, "archive": "x.zip", "pattern": "(?P<speaker>\\d+"}
    with pytest.raises(ParamsError, match=r"corpora\.emodb\.pattern does not compile"):
        validate_params(params)
    params["corpora"]["emodb"]["pattern"] = "(?P<who>\\d+)(?P<label>W)"
    with pytest.raises(ParamsError, match=r"corpora\.emodb\.pattern has no named group \(\?P<speaker>"):
        validate_params(params)
    params["corpora"]["emodb"]["pattern"] = EMODB_LIKE["pattern"]
    params["corpora"]["emodb"]["labels"] = {"W": "bored"}
    with pytest.raises(ParamsError, match=r"corpora\.emodb\.labels\.W: got 'bored'"):
        validate_params(params)
    params["corpora"]["emodb"] = {**EMODB_LIKE, "archive": "x.zip", "kind": "manifest"}
    with pytest.raises(ParamsError, match=r"corpora\.emodb: 'manifest' is a required property"):
        validate_params(params)


@pytest.mark.realdata
@pytest.mark.parametrize(("corpus", "sample"), [("tess", "tess"), ("savee", "savee"), ("cremad", "cremad")])
def test_the_shipped_patterns_give_the_rows_of_the_corpus_parsers(shared_data, tmp_path, corpus, sample):
    archive = shared_data / sample / f"{sample}_sample.zip"
    generic = yaml.safe_load((REPO / "config" / "corpora" / f"{corpus}.yaml").read_text())["corpora"][corpus]
    named = {"val_speakers": generic["val_speakers"], "test_speakers": generic["test_speakers"]}
    by_parser, parser_rejects, _ = ingest(tmp_path / "parser", archive, named, name=corpus)
    by_pattern, pattern_rejects, _ = ingest(tmp_path / "pattern", archive, generic, name=corpus)
    columns = ("member", "speaker", "label", "original_label", "split", "sex", "label_id", "content_hash")
    assert len(by_parser) > 10

    def table(rows: list) -> list:
        return sorted(tuple(r[c] for c in columns) for r in rows)

    assert table(by_pattern) == table(by_parser)
    assert [item for item, _ in pattern_rejects] == [item for item, _ in parser_rejects]
