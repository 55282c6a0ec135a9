"""The tiny demo DAG on a real single-node SLURM cluster through ``profiles/slurm``: munge,
slurmctld and slurmd started here (no systemd), every job an sbatch job, and results that
equal the local run's byte for byte."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, TINY, free_port, snakemake

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
#: Where srun looks for the cluster's configuration: the plugin's job step drops SLURM_CONF
#: from the environment of its srun call (snakemake-executor-plugin-slurm-jobstep 0.6.1), so
#: the throw-away cluster must live at the standard path, as a real cluster's does.
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARK = "# emorec tests/test_slurm.py: throw-away single-node cluster"


def binary(name: str) -> str | None:
    """Where ``name`` is: on PATH, or in /usr/sbin (not on every root PATH)."""
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)


def slurm_conf(folder: Path, host: str, node: str) -> str:
    """A minimal ``slurm.conf``: one node, one partition, no accounting (job states come from
    squeue, kept for 10 minutes), no cgroups; state, spool, logs and ports of its own."""
    return "\n".join(
        [
            MARK,
            "ClusterName=emorec",
            f"SlurmctldHost={host}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "AuthType=auth/munge",
            f"AuthInfo=socket={folder / 'munge' / 'socket'}",
            "CredType=cred/munge",
            f"StateSaveLocation={folder / 'state'}",
            f"SlurmdSpoolDir={folder / 'spool'}",
            f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
            f"SlurmdPidFile={folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={folder / 'slurmctld.log'}",
            f"SlurmdLogFile={folder / 'slurmd.log'}",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "MinJobAge=600",
            node,
            "PartitionName=emorec Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


@pytest.fixture(scope="module")
def slurm() -> Iterator[Path]:
    """A running single-node cluster (munged, slurmctld, slurmd as this test's children, stopped
    by their PIDs afterwards); yields the folder holding its state and logs."""
    missing = [name for name in DAEMONS if binary(name) is None]
    if missing or os.geteuid() != 0:
        if os.environ.get("CI"):
            raise AssertionError(
                f"CI runs as root with Slurm and munge installed (.ci/run installs them); missing: {missing}"
            )
        pytest.skip(f"needs root and Slurm + munge (missing: {', '.join(missing) or 'root'})")
    if SLURM_CONF.exists() and MARK not in SLURM_CONF.read_text():
        pytest.skip(f"{SLURM_CONF} belongs to a real cluster; the test does not replace it")
    folder = Path(tempfile.mkdtemp(prefix="emorec-slurm-"))
    folder.chmod(0o755)
    for sub in ("munge", "state", "spool"):
        (folder / sub).mkdir(mode=0o755)
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    node = subprocess.run(
        [binary("slurmd"), "-C"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    host = socket.gethostname().split(".")[0]  # slurmd -C names the node hostname -s, as it must
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm_conf(folder, host, node))
    daemons: list[subprocess.Popen] = []
    try:
        munge = folder / "munge"
        for argv in (
            [
                binary("munged"),
                "--foreground",
                "--force",
                f"--socket={munge / 'socket'}",
                f"--key-file={key}",
                f"--pid-file={munge / 'pid'}",
                f"--seed-file={munge / 'seed'}",
                f"--log-file={munge / 'log'}",
            ],
            [binary("slurmctld"), "-D", "-i"],
            [binary("slurmd"), "-D"],
        ):
            with open(folder / f"{Path(argv[0]).name}.out", "w") as out:
                daemons.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))
            time.sleep(1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            logs = "\n".join(
                f"{p.name}: {p.read_text()[-1500:]}"
                for p in sorted(folder.glob("*.log")) + sorted(folder.glob("*.out"))
            )
            raise AssertionError(f"the node never became idle (sinfo: {state!r})\n{logs}")
        yield folder
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
        SLURM_CONF.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.e2e
def test_tiny_dag_runs_as_slurm_jobs_and_equals_the_local_run(run, slurm, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e_slurm")  # the local run's depth (code inputs are relative paths)
    result = snakemake(
        workdir,
        "--profile",
        str(REPO / "profiles/slurm"),
        "--configfile",
        str(TINY),
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "2",
        "--slurm-keep-successful-logs",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:] + (slurm / "slurmctld.log").read_text()[-2000:]

    # Every job was a SLURM job: one job id per rule job in Snakemake's log, and that job's log
    # file written by SLURM itself (slurm_logs/rule_<rule>/<jobid>.log) from inside the job.
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", output)
    rule_jobs = int(re.search(r"(\d+) of (\d+) steps \(100%\) done", output).group(2))
    targets = 1  # rule all: no command, finished by Snakemake itself
    assert len(submitted) == rule_jobs - targets > 20
    for job_id, log in submitted:
        assert Path(log).name == f"{job_id}.log" and "Finished job" in Path(log).read_text()
    states = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i %T"], capture_output=True, text=True, check=True
    ).stdout
    finished = dict(line.split() for line in states.splitlines())
    assert {finished.get(job_id) for job_id, _ in submitted} == {"COMPLETED"}

    # The same numbers and files as the local run, byte for byte.
    assert (workdir / "reports/metrics.json").read_bytes() == (run / "reports/metrics.json").read_bytes()
    for path in sorted((run / "reports").rglob("*")):
        if (
            path.suffix in {".json", ".csv", ".md", ".parquet"} and path.name != "mlflow_run.json"
        ):  # run ids, times
            assert (workdir / path.relative_to(run)).read_bytes() == path.read_bytes(), path.relative_to(run)

    again = snakemake(workdir, "--profile", str(REPO / "profiles/slurm"), "--configfile", str(TINY), "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
