"""dvc.yaml must describe what the Snakemake DAG does, or this fails.

Every job's outputs belong to exactly one DVC stage, every input a stage reads from another
stage is one of its deps, each stage's command builds everything the stage declares, every
result-affecting params section is declared, and every confusion matrix is a DVC plot.
"""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import PurePosixPath

import pytest
import yaml
from conftest import REPO

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())
STAGES = DVC["stages"]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
#: Params that change how fast, not what, the pipeline computes (of ``resources`` only the
#: thread counts change results, and dvc.yaml lists those), or what ``emorec serve`` accepts.
NOT_RESULTS = {"reports_dir", "serving"}


def dry_run(tmp_path, target: str) -> list[dict]:
    """Jobs of a forced dry run of ``target``: rule name, input and output paths."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "-F",
            target,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = []
    for block in re.split(r"^\[.*\]\n", result.stdout, flags=re.M)[1:]:
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not rule:
            continue
        files = {}
        for kind in ("input", "output"):
            line = re.search(rf"^\s+{kind}: (.*)$", block, re.M)
            files[kind] = [p.strip() for p in line.group(1).split(",")] if line else []
        jobs.append({"rule": rule.group(1), **files})
    return jobs


def paths(entries) -> list[PurePosixPath]:
    """Paths of a stage's deps / outs / metrics (plain strings or one-key mappings)."""
    return [PurePosixPath(next(iter(e)) if isinstance(e, dict) else e) for e in entries]


def declared_outputs(stage: dict) -> list[PurePosixPath]:
    return paths(stage.get("outs", [])) + paths(stage.get("metrics", [])) + paths(stage.get("plots", []))


def under(path: str, roots: list[PurePosixPath]) -> bool:
    return any(PurePosixPath(path).is_relative_to(root) for root in roots)


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    return dry_run(tmp_path_factory.mktemp("dag"), "all")


#: Outputs a stage writes but does not hash, with the stage: the MLflow run record names run
#: ids that are new on every run (dvc.yaml says so where the stage is declared).
UNHASHED = {"reports/mlflow_run.json": "track"}


def stage_of(output: str) -> list[str]:
    if output in UNHASHED:
        return [UNHASHED[output]]
    return [name for name, stage in STAGES.items() if under(output, declared_outputs(stage))]


def test_every_output_belongs_to_exactly_one_stage(dag):
    outputs = [o for job in dag for o in job["output"]]
    assert outputs, "the dry run listed no outputs"
    owners = {o: stage_of(o) for o in outputs}
    assert not [o for o, s in owners.items() if len(s) != 1], {o: s for o, s in owners.items() if len(s) != 1}


def test_inputs_from_other_stages_are_deps(dag):
    producer = {o: stage_of(o)[0] for job in dag for o in job["output"]}
    missing = []
    for job in dag:
        if not job["output"]:
            continue  # target rules
        stage = producer[job["output"][0]]
        deps = paths(STAGES[stage].get("deps", []))
        for path in job["input"]:
            if path in producer and producer[path] != stage and not under(path, deps):
                missing.append((stage, path))
    assert not missing, f"stages read these outputs of other stages without declaring them as deps: {missing}"


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_command_builds_what_the_stage_declares(name, dag, tmp_path):
    command = STAGES[name]["cmd"].split()
    assert command[:2] == ["snakemake", "-j8"], command
    built = {o for job in dry_run(tmp_path, command[-1]) for o in job["output"]}
    declared = {o for job in dag for o in job["output"] if stage_of(o) == [name]}
    assert declared, f"stage {name} owns no Snakemake output"
    assert declared <= built, f"{command} does not build {sorted(declared - built)}"


def test_every_result_param_is_a_dvc_param():
    declared = {p for stage in STAGES.values() for p in stage.get("params", [])}
    threads = {p for p in declared if p.startswith("resources.")}
    assert threads == {f"resources.{s}.threads" for s in ("demo", "ingest", "features", "train", "evaluate")}
    assert {p.split(".")[0] for p in declared} == set(PARAMS) - NOT_RESULTS
    assert all(p.split(".")[0] in PARAMS for p in declared)


def test_every_confusion_matrix_is_a_dvc_plot(dag):
    plotted = set()
    for plot in DVC["plots"]:
        if isinstance(plot, str):
            plotted.add(plot)
        else:
            (definition,) = plot.values()
            plotted.update(definition["y"])
    figures = {o for job in dag for o in job["output"] if re.search(r"confusion\.(csv|png)$|f1\.png$", o)}
    assert figures == plotted


def lock_entries(lock_path) -> dict[str, dict]:
    """Every dep and out of a ``dvc.lock`` by path: md5, size (and nfiles for folders)."""
    lock = yaml.safe_load(lock_path.read_text())
    return {
        entry["path"]: entry
        for stage in lock["stages"].values()
        for kind in ("deps", "outs")
        for entry in stage.get(kind, [])
    }


@pytest.mark.parametrize("lock", ["dvc.lock", "reports/real/dvc.lock"])
def test_committed_locks_match_the_committed_results(lock):
    """Each lock is the lock of the run whose metrics are committed: a results commit without
    its lock (or the other way round) fails here."""
    entries = lock_entries(REPO / lock)
    for path in (
        "reports/metrics.json",
        "reports/results.md",
        "reports/real/metrics.json",
        "reports/real/results.md",
    ):
        if path in entries:
            assert entries[path]["md5"] == hashlib.md5((REPO / path).read_bytes()).hexdigest(), path
    assert any(p.endswith("metrics.json") for p in entries)


def test_the_real_archives_table_in_the_docs_is_the_locks():
    entries = lock_entries(REPO / "reports/real/dvc.lock")
    archives = {p: e for p, e in entries.items() if p.startswith("data/raw/")}
    assert len(archives) == 5
    rows = re.findall(
        r"^\| `(data/raw/[^`]+)` \|[^|]*\| ([\d,]+) \| `([0-9a-f]{32})` \|$",
        (REPO / "docs/data.md").read_text(),
        re.M,
    )
    assert {p: (int(size.replace(",", "")), md5) for p, size, md5 in rows} == {
        p: (e["size"], e["md5"]) for p, e in archives.items()
    }


def test_the_real_stage_is_frozen_and_runs_the_real_profile():
    (stage,) = yaml.safe_load((REPO / "reports/real/dvc.yaml").read_text())["stages"].values()
    assert stage["frozen"] is True and stage["wdir"] == "../.."
    assert stage["cmd"] == "snakemake -j8 --configfile config/real.yaml"
    real = yaml.safe_load((REPO / "config/real.yaml").read_text())
    archives = [real["corpora"][c]["archive"] for c in [*real["corpora"]["speech"], "fer2013"]]
    assert sorted(a for a in stage["deps"] if a.startswith("data/raw/")) == sorted(archives)


def test_the_demo_lock_is_of_this_code_and_these_params():
    """dvc.lock must be re-committed with every change to the code or params.yaml (run the
    pipeline, ``dvc commit -f dvc.yaml``): otherwise a fresh clone's ``dvc status`` lists every
    stage as changed. Only the committed deps are compared here (a clone has no outputs)."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json", "dvc.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    stale = {
        stage: {
            path: change
            for path, change in entry["changed deps"].items()
            if path in ("Snakefile", "workflow", "params.yaml")
        }
        for stage, entries in json.loads(result.stdout).items()
        for entry in entries
        if isinstance(entry, dict) and "changed deps" in entry
    }
    assert not {s: c for s, c in stale.items() if c}, f"dvc.lock is stale (re-run and dvc commit): {stale}"
