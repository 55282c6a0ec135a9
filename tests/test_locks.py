import os
import subprocess
import sys
import time
from pathlib import Path

from emorec.locks import _is_snakemake, clear_stale_locks, other_snakemake_running


def make_locks(workdir):
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("data/x\n")
    return locks


def test_recognises_snakemake_command_lines():
    assert _is_snakemake(["/venv/bin/python3.11", "/venv/bin/snakemake", "-j8"])
    assert _is_snakemake(["python", "-m", "snakemake", "-n"])
    assert not _is_snakemake(["python", "/w/.snakemake/scripts/tmpab.train_keras.py"])
    assert not _is_snakemake(["vim", "Snakefile"])


def test_stale_locks_are_removed_when_nobody_runs(tmp_path):
    locks = make_locks(tmp_path)
    assert clear_stale_locks(tmp_path) == 2
    assert not list(locks.iterdir())
    assert clear_stale_locks(tmp_path) == 0


def test_locks_of_a_running_snakemake_are_kept(tmp_path):
    locks = make_locks(tmp_path)
    fake = tmp_path / "snakemake"  # a process whose argv[1] is named snakemake, cwd tmp_path
    fake.write_text("import time\ntime.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, str(fake)], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while (
            str(fake) not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)  # until the child has exec'd
        assert other_snakemake_running(tmp_path)
        assert clear_stale_locks(tmp_path) == 0
        assert len(list(locks.iterdir())) == 2
    finally:
        proc.kill()
        proc.wait()
    assert not other_snakemake_running(tmp_path)


def test_without_proc_it_plays_safe(tmp_path):
    assert other_snakemake_running(tmp_path, proc=tmp_path / "no-proc")
    assert os.path.isdir("/proc")
