"""A team's DVC round trip, as the README's "Sharing data and models" tells it: a raw archive
``dvc add``-ed, ``dvc repro``, ``dvc push`` to a remote; a teammate's fresh ``git clone``,
``dvc pull`` and ``snakemake --touch``, after which only the MLflow record is left to run and
every pulled file equals the original. And a reviewer's fresh clone that runs the pipeline
itself: ``dvc commit`` leaves the committed ``dvc.lock`` as it is, hash for hash."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ENV, REPO, TINY

from emorec.demo.fer2013 import make_demo_fer2013
from emorec.params import load_params

BIN = str(Path(sys.executable).parent)
#: dvc.yaml's commands call ``snakemake`` from the environment, as a user's activated venv does.
DVC_ENV = {
    **ENV,
    "PATH": f"{BIN}:{ENV.get('PATH', '')}",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def sh(cwd: Path, *argv: str) -> str:
    """Run ``argv`` in ``cwd``; fail with its output when it fails; return stdout + stderr."""
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=DVC_ENV)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{output[-4000:]}"
    return output


def tracked_files(root: Path) -> dict[str, bytes]:
    """Every file under DVC's outputs (data/, reports/), relative path -> bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for top in ("data", "reports")
        for p in sorted((root / top).rglob("*"))
        if p.is_file() and p.suffix != ".dvc" and p.name != ".gitignore"
    }


def dvc(cwd: Path, *argv: str) -> str:
    return sh(cwd, sys.executable, "-m", "dvc", *argv)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The repository on the tiny demo, with FER2013 as a ``dvc add``-ed archive, after ``dvc
    repro`` and ``dvc push`` to a local remote (``<project>/../remote``), all committed."""
    project = tmp_path_factory.mktemp("dvc") / "project"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file() and not name.startswith("reports/real/") and name != "dvc.lock":
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, project / name)
    # The project's own params: the tiny demo, with FER2013 as a raw archive the team versions.
    params = load_params(REPO / "params.yaml", (TINY,))
    params["corpora"]["fer2013"]["archive"] = "data/raw/fer2013.csv"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    make_demo_fer2013(path=project / "data/raw/fer2013.csv", rows=300, seed=5)

    sh(project, "git", "init", "-q", "-b", "main")
    dvc(project, "add", "data/raw/fer2013.csv")
    dvc(project, "remote", "add", "-d", "store", str(project.parent / "remote"))
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "project")
    dvc(project, "repro")
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "results")
    dvc(project, "push")
    assert "up to date" in dvc(project, "status")
    return project


@pytest.mark.e2e
def test_push_then_a_fresh_clone_pulls_everything_and_has_only_tracking_to_rerun(project, tmp_path):
    teammate = tmp_path / "teammate"
    sh(tmp_path, "git", "clone", "-q", str(project), str(teammate))
    assert not (teammate / "data/models").exists() and not (teammate / "data/raw/fer2013.csv").exists()
    dvc(teammate, "pull")
    sh(teammate, sys.executable, "-m", "snakemake", "-j8", "--touch")
    dry = sh(teammate, sys.executable, "-m", "snakemake", "-j8", "-n")
    # the MLflow run record is not a DVC out (run ids differ on every run): the teammate's run
    # logs the pulled models to their own MLflow, and nothing else
    assert set(re.findall(r"^(?:local)?rule (\w+):", dry, re.M)) == {"track", "all"}, dry[-3000:]
    assert "up to date" in dvc(teammate, "status")
    assert "in sync" in dvc(teammate, "status", "-c")
    assert dvc(teammate, "metrics", "diff").strip() == ""  # against HEAD: nothing changed

    ours, theirs = tracked_files(project), tracked_files(teammate)
    assert "data/models/visual/cnn/model.keras" in theirs and "reports/mlflow_run.json" not in theirs
    assert theirs.keys() == ours.keys() - {"reports/mlflow_run.json"}
    assert [k for k, v in theirs.items() if ours[k] != v] == []


@pytest.mark.e2e
def test_a_fresh_clone_that_runs_the_pipeline_reproduces_the_lock_hash_for_hash(project, tmp_path):
    """What a reviewer does with the README's commands: run Snakemake in a fresh clone (with
    only the raw archive pulled), ``dvc commit``; the committed lock must not move, and every output (the MLflow
    record aside) must have the project's bytes. Fails when an output stops being reproducible."""
    reviewer = tmp_path / "reviewer"
    sh(tmp_path, "git", "clone", "-q", str(project), str(reviewer))
    dvc(reviewer, "pull", "data/raw/fer2013.csv")  # the team's raw archive, nothing else
    sh(reviewer, sys.executable, "-m", "snakemake", "-j8")
    dvc(reviewer, "commit", "-f", "dvc.yaml")
    ours, theirs = tracked_files(project), tracked_files(reviewer)
    differ = [k for k in ours.keys() & theirs.keys() if ours[k] != theirs[k]]
    assert differ == ["reports/mlflow_run.json"], f"not the same bytes in two runs: {sorted(differ)}"
    lock = subprocess.run(
        ["git", "diff", "--exit-code", "dvc.lock"], cwd=reviewer, capture_output=True, text=True
    )
    assert lock.returncode == 0, lock.stdout[-4000:]
    assert "up to date" in dvc(reviewer, "status")
