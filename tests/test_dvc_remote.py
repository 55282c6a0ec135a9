"""A team's DVC round trip, as the README's "Sharing data and models" tells it: a raw archive
``dvc add``-ed, ``dvc repro``, ``dvc push`` to a remote; a teammate's fresh ``git clone``,
``dvc pull`` and ``snakemake --touch``, after which nothing is left to run and every pulled
file equals the original."""

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


@pytest.mark.e2e
def test_push_then_a_fresh_clone_pulls_everything_and_has_nothing_to_rerun(tmp_path):
    project, remote, teammate = tmp_path / "project", tmp_path / "remote", tmp_path / "teammate"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file() and not name.startswith("reports/real/"):
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, project / name)
    # The project's own params: the tiny demo, with FER2013 as a raw archive the team versions.
    params = load_params(REPO / "params.yaml", (TINY,))
    params["corpora"]["fer2013"]["archive"] = "data/raw/fer2013.csv"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    make_demo_fer2013(path=project / "data/raw/fer2013.csv", rows=300, seed=5)

    sh(project, "git", "init", "-q", "-b", "main")
    sh(project, sys.executable, "-m", "dvc", "add", "data/raw/fer2013.csv")
    sh(project, sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(remote))
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "project")
    sh(project, sys.executable, "-m", "dvc", "repro")
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "results")
    sh(project, sys.executable, "-m", "dvc", "push")
    assert "up to date" in sh(project, sys.executable, "-m", "dvc", "status")

    sh(tmp_path, "git", "clone", "-q", str(project), str(teammate))
    assert not (teammate / "data/models").exists() and not (teammate / "data/raw/fer2013.csv").exists()
    sh(teammate, sys.executable, "-m", "dvc", "pull")
    sh(teammate, sys.executable, "-m", "snakemake", "-j8", "--touch")
    dry = sh(teammate, sys.executable, "-m", "snakemake", "-j8", "-n")
    assert "Nothing to be done" in dry, dry[-3000:]
    assert "up to date" in sh(teammate, sys.executable, "-m", "dvc", "status")
    assert "in sync" in sh(teammate, sys.executable, "-m", "dvc", "status", "-c")
    assert (
        sh(teammate, sys.executable, "-m", "dvc", "metrics", "diff").strip() == ""
    )  # against HEAD: nothing changed

    ours, theirs = tracked_files(project), tracked_files(teammate)
    assert "data/models/visual/cnn/model.keras" in theirs and "reports/mlflow_run.json" in theirs
    assert theirs.keys() == ours.keys()
    assert [k for k, v in theirs.items() if ours[k] != v] == []
