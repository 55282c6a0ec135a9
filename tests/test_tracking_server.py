"""MLflow on a team's tracking server: PostgreSQL behind ``mlflow server``, ``track`` logging
to it over REST, a server that stops in the middle of a ``track`` run, and the rerun."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import ENV, SNAKEMAKE, TINY, free_port, snakemake, wait_for
from test_workflow import MODELS

VENV_BIN = str(Path(sys.executable).parent)
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@pytest.fixture
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 with an empty ``mlflow`` database, run as
    the ``postgres`` user (it refuses root); stopped and deleted afterwards."""
    if not PG_BINS or os.geteuid() != 0 or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            raise AssertionError("CI runs as root with PostgreSQL installed (.ci/run installs it)")
        pytest.skip("needs PostgreSQL's server binaries and root (to run it as the postgres user)")
    bin_dir = PG_BINS[-1].parent
    data = Path(tempfile.mkdtemp(prefix="emorec-pg-"))  # not under pytest's 0700 root-owned tmp
    shutil.chown(data, "postgres", "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_postgres, bin_dir / "initdb", "-D", data / "db", "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            bin_dir / "pg_ctl",
            "-D",
            data / "db",
            "-w",
            "-l",
            data / "server.log",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                *as_postgres,
                bin_dir / "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "mlflow",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            [*as_postgres, bin_dir / "pg_ctl", "-D", data / "db", "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


def start_server(backend: str, artifacts: Path, port: int) -> subprocess.Popen:
    """``mlflow server`` on ``backend``, its output appended to a file beside ``artifacts`` (a
    pipe nobody reads fills up with its request log and stalls it)."""
    with open(artifacts.parent / "mlflow-server.log", "a") as out:
        server = subprocess.Popen(
            [
                f"{VENV_BIN}/mlflow",
                "server",
                "--backend-store-uri",
                backend,
                "--artifacts-destination",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={**ENV, "PATH": f"{VENV_BIN}:{ENV.get('PATH', '')}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are stopped with it, as a crashed server would be
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server, seconds=180)
    except BaseException:
        stop(server)  # a server that never answered is not left behind
        raise
    return server


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)


def rest(server: str, endpoint: str, method: str = "POST", **body: object) -> dict:
    import requests

    url = f"{server}/api/2.0/mlflow/{endpoint}"
    response = (
        requests.post(url, json=body, timeout=30)
        if method == "POST"
        else requests.get(url, params=body, timeout=30)
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.e2e
def test_track_on_postgresql_survives_a_server_stop_and_logs_each_version_once(run, postgres, tmp_path):
    # a copy of the tiny run, so the shared one's MLflow store is untouched; at the run's own
    # depth, since Snakemake records the package's code by relative paths and reruns all on a change
    work = tmp_path.parent / f"{tmp_path.name}-work"
    shutil.copytree(run, work, symlinks=True, ignore=shutil.ignore_patterns("mlflow.db", "mlruns", "locks"))
    port = free_port()
    server_uri = f"http://127.0.0.1:{port}"
    env = {
        **ENV,
        "MLFLOW_TRACKING_URI": server_uri,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    }
    track = [*map(str, ("-j1", "--configfile", TINY, "--forcerun", "track", "reports/mlflow_run.json"))]
    metrics = (work / "reports/metrics.json").read_bytes()

    # 1. the server dies while track is logging the models: the rule fails with one clear line
    server = start_server(postgres, tmp_path / "artifacts", port)
    job = subprocess.Popen(
        [*SNAKEMAKE, "--directory", str(work), *track],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = work / "logs/track.log"
    log.unlink()  # the copied run's own log says "logged audio." already
    deadline = time.monotonic() + 300
    while (
        not (log.is_file() and "logged audio." in log.read_text())
        and job.poll() is None
        and time.monotonic() < deadline
    ):  # mid-track
        time.sleep(0.2)
    assert job.poll() is None and "logged audio." in log.read_text(), (
        "track did not reach its models while the server ran"
    )
    stop(server)
    output = job.communicate(timeout=600)[0]
    assert job.returncode != 0
    assert f"MLflow at {server_uri} failed while logging this pipeline version" in log.read_text(), output[
        -3000:
    ]
    assert (work / "reports/metrics.json").read_bytes() == metrics  # the results stay

    # 2. the server is back: the rerun logs the version, once, with its nested runs and models
    server = start_server(postgres, tmp_path / "artifacts", port)
    try:
        result = snakemake(work, *track, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "deleted unfinished run" in (work / "logs/track.log").read_text()
        record = json.loads((work / "reports/mlflow_run.json").read_text())
        experiment = rest(server_uri, "experiments/search", max_results=10)["experiments"]
        experiment_id = next(e["experiment_id"] for e in experiment if e["name"] == "emorec")
        runs = rest(server_uri, "runs/search", experiment_ids=[experiment_id], max_results=100)["runs"]
        nested = [r for r in runs if any(t["key"] == "mlflow.parentRunId" for t in r["data"].get("tags", []))]
        parents = [r for r in runs if r not in nested]
        assert [p["info"]["run_id"] for p in parents] == [record["run_id"]] and parents[0]["info"][
            "status"
        ] == "FINISHED"
        assert len(nested) == len(MODELS) + 1  # a run per model and fusion
        versions = rest(server_uri, "model-versions/search", "GET", filter="name='emorec-audio-svm'")[
            "model_versions"
        ]
        assert len(versions) == 1 and versions[0]["run_id"] in {r["info"]["run_id"] for r in nested}

        # a third run with nothing changed logs nothing new
        assert snakemake(work, *track, env=env).returncode == 0
        assert len(
            rest(server_uri, "runs/search", experiment_ids=[experiment_id], max_results=100)["runs"]
        ) == len(runs)

        # the registered model loads through mlflow.pyfunc from the server's artifact store
        import mlflow

        from emorec.datasets import model_input

        mlflow.set_tracking_uri(server_uri)
        model = mlflow.pyfunc.load_model(f"models:/emorec-audio-svm/{versions[0]['version']}")
        row = model_input(
            pq.read_table(work / "data/features/audio.parquet").slice(0, 1),
            "descriptors",
            descriptors=["egemaps"],
        )
        assert abs(float(model.predict(row).sum()) - 1) < 1e-4
    finally:
        stop(server)
