"""Recovery from a killed run: clear Snakemake's working-directory locks nobody holds.

Snakemake locks the files a run will write under ``.snakemake/locks``; a run killed with
SIGKILL (or a power loss) leaves them behind, and the next run refuses to start until
``--unlock``. Before locking, the pipeline removes them when no other Snakemake process is
running in the same directory on this host, so re-running the same command just resumes.
"""

import logging
import os
from itertools import pairwise
from pathlib import Path

log = logging.getLogger(__name__)


def _is_snakemake(cmdline: list[str]) -> bool:
    """A Snakemake main process: ``snakemake ...`` or ``python -m snakemake ...``."""
    if any(Path(arg).name == "snakemake" for arg in cmdline[:2]):
        return True
    return any(a == "-m" and b == "snakemake" for a, b in pairwise(cmdline))


def other_snakemake_running(workdir: Path, *, proc: Path = Path("/proc")) -> bool:
    """Whether a Snakemake process other than this one runs with ``workdir`` as its cwd.

    Answers True (play safe) when processes cannot be inspected.
    """
    if not proc.is_dir():
        return True
    me, target = os.getpid(), workdir.resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if _is_snakemake(cmdline) and Path(os.readlink(entry / "cwd")).resolve() == target:
                return True
        except OSError:
            continue  # gone, or not ours to inspect
    return False


def clear_stale_locks(workdir: str | Path = ".") -> int:
    """Delete ``.snakemake/locks/*`` of ``workdir`` when no other Snakemake runs there;
    returns how many lock files were removed."""
    workdir = Path(workdir)
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks or other_snakemake_running(workdir):
        return 0
    for lock in locks:
        lock.unlink(missing_ok=True)
    log.warning("removed %d stale lock file(s) left by a killed run in %s", len(locks), workdir.resolve())
    return len(locks)
