"""dvc.yaml must describe what the Snakemake DAG does, or this fails.

Every job's outputs belong to exactly one DVC stage, every input a stage reads from another
stage is one of its deps, each stage's command builds everything the stage declares, every
result-affecting params section is declared, and every confusion matrix is a DVC plot.
"""

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
#: Params that change how fast, not what, the pipeline computes.
NOT_RESULTS = {
    "resources",
    "reports_dir",
    "serving",
}  # serving limits decide what emorec serve accepts, not a result


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
