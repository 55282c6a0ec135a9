"""dvc.yaml must describe what the Snakemake DAG produces, or this fails."""

import re
import subprocess
import sys
from pathlib import PurePosixPath

import yaml

from conftest import REPO

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
#: Params that change how fast, not what, the pipeline computes.
NOT_RESULTS = {"resources"}


def dag_outputs(tmp_path) -> set[str]:
    """Every output file of every job of a forced dry run."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "-F", "all"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {p.strip() for line in re.findall(r"^\s*output: (.*)$", result.stdout, re.M) for p in line.split(",")}


def test_every_dag_output_is_a_dvc_out(tmp_path):
    outs = [PurePosixPath(o) for stage in DVC["stages"].values() for o in stage.get("outs", [])]
    outputs = dag_outputs(tmp_path)
    assert outputs, "the dry run listed no outputs"
    stray = sorted(o for o in outputs if not any(PurePosixPath(o).is_relative_to(out) for out in outs))
    assert not stray, f"Snakemake outputs not tracked by dvc.yaml: {stray}"


def test_every_result_param_is_a_dvc_param():
    declared = {p for stage in DVC["stages"].values() for p in stage.get("params", [])}
    assert declared == set(PARAMS) - NOT_RESULTS
    assert all(p.split(".")[0] in PARAMS for p in declared)
