"""The whole Snakemake DAG on a tiny demo config, run as a user would, in a temporary folder."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO
from emorec.tables import FACE_FEATURES, FACE_MANIFEST, RAVDESS_MANIFEST, REJECTS, audio_features_schema

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
TINY = REPO / "tests" / "config" / "tiny.yaml"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    result = snakemake(workdir, "-j2", "--configfile", str(TINY))
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.e2e
def test_dag_writes_every_table_with_its_schema(run):
    assert pq.read_schema(run / "data/interim/ravdess/manifest.parquet").equals(RAVDESS_MANIFEST)
    assert pq.read_schema(run / "data/interim/fer2013/manifest.parquet").equals(FACE_MANIFEST)
    for corpus in ("ravdess", "fer2013"):
        assert pq.read_schema(run / f"data/interim/{corpus}/rejects.parquet").equals(REJECTS)
        summary = json.loads((run / f"data/interim/{corpus}/summary.json").read_text())
        assert summary["rejects"] == 0 and len(summary["archive_sha256"]) == 64
    audio = pq.read_table(run / "data/features/ravdess/audio.parquet")
    assert audio.schema.equals(audio_features_schema(n_mfcc=20, n_mels=64, frames=128), check_metadata=False)
    assert audio.num_rows == 4 * 60
    assert sorted(set(audio.column("split").to_pylist())) == ["test", "train", "val"]
    faces = pq.read_table(run / "data/features/fer2013/faces.parquet")
    assert faces.schema.equals(FACE_FEATURES) and faces.num_rows == 300
    assert (run / "logs/features/ravdess/shard_001.log").read_text().count("clips") >= 1


@pytest.mark.e2e
def test_second_dry_run_has_nothing_to_do_quickly(run):
    started = time.perf_counter()
    result = snakemake(run, "-j8", "-n", "--configfile", str(TINY))
    elapsed = time.perf_counter() - started
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr
    assert elapsed < 5, f"dry run took {elapsed:.1f} s"


@pytest.mark.e2e
def test_missing_archive_fails_at_once_naming_it(tmp_path):
    config = tmp_path / "real.yaml"
    config.write_text("corpora:\n  fer2013:\n    archive: data/raw/fer2013.csv\n")
    result = snakemake(tmp_path, "-n", "--configfile", str(config))
    assert result.returncode != 0
    assert "corpora.fer2013.archive: data/raw/fer2013.csv does not exist" in result.stdout + result.stderr
    assert "demo" in result.stdout + result.stderr


@pytest.mark.e2e
def test_bad_params_fail_naming_the_key(tmp_path):
    result = snakemake(tmp_path, "-n", "--config", "ingest={'max_reject_fraction': 2}")
    assert result.returncode != 0
    assert "ingest.max_reject_fraction: got" in result.stdout + result.stderr


@pytest.mark.e2e
def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
