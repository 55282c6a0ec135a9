"""Import librosa without racing other processes over numba's on-disk cache.

librosa declares numba ``guvectorize`` kernels with explicit signatures, which compile at
*import* time and are cached next to its sources. Several processes doing this at once on a
cold cache (parallel Snakemake jobs on a fresh install) can write and read half-finished
cache files and die with SIGSEGV (numba issues #4807, #10128). Importing under an
inter-process file lock lets the first process compile and write the cache and the others
load it.
"""

import importlib.util
import os
import tempfile
from pathlib import Path
from types import ModuleType

from filelock import FileLock


def _lock_path() -> Path:
    """A lock beside librosa's own cache folder if writable (shared filesystems), else in /tmp."""
    spec = importlib.util.find_spec("librosa")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "__pycache__"
        if folder.is_dir() and os.access(folder, os.W_OK):
            return folder / "emorec-jit-import.lock"
    return Path(tempfile.gettempdir()) / "emorec-librosa-jit-import.lock"


def import_librosa() -> ModuleType:
    """``librosa`` with the JIT-compiled submodules the features use already imported."""
    with FileLock(_lock_path()):
        import librosa
        import librosa.core.audio  # noqa: F401  (guvectorize kernels compile here)
        import librosa.core.pitch  # noqa: F401
        import librosa.feature  # noqa: F401
        import librosa.util  # noqa: F401
    return librosa
