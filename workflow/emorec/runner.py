"""What every rule script needs around its one function call: logging, threads, clean errors."""

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emorec.errors import EmorecError

#: Environment the pipeline sets for itself, so users never have to.
PIPELINE_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "KERAS_BACKEND": "tensorflow",
    # -j8 on 2 cores runs several multi-threaded jobs at once; OpenMP threads that spin
    # while waiting then starve each other (a HistGradientBoosting fit: 6 s -> 350 s).
    "OMP_WAIT_POLICY": "PASSIVE",
}


#: ``determinism: portable``: the kernels that decide the numbers, pinned to what every x86-64
#: CPU with AVX2 (and FMA) runs alike. These libraries pick their kernels at run time from the
#: CPU's instruction sets, and AVX-512 paths round differently from AVX2 ones: oneDNN (Keras
#: convolutions, matrix products), NumPy's SIMD loops (log10, exp, sqrt, reductions in the
#: features), OpenBLAS (scikit-learn's and NumPy's matrix products). TensorFlow routes
#: convolutions to oneDNN's kernels by itself only on CPUs with VNNI or AMX instructions (Ice
#: Lake, Alder Lake, Zen 4 and later) and to Eigen's elsewhere: on for every CPU, so all run
#: oneDNN's AVX2 kernels, which use FMA where TensorFlow's Eigen is built for AVX alone
#: (``benchmarks/face_step_profile.txt``; the same weights under QEMU's CPU models in
#: ``benchmarks/determinism_cpu_models.txt``). Intel IPP inside OpenCV
#: (the demo clips' and the video frames' resizing) runs its AVX-512 code where the CPU has it:
#: pinned to its AVX2 code, without which an Intel Xeon found a face in one video frame fewer
#: than an AMD EPYC. They are read when each library loads, so they are set before any rule
#: script starts and override the user's own.
PORTABLE_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENCV_IPP": "avx2",
    "PYTHONHASHSEED": "0",
}
DETERMINISM = ("portable", "fast")
#: Where :func:`set_pipeline_env` leaves the mode for code that reads it at run time
#: (:func:`emorec.models.keras_nets.configure_tensorflow`); unset means ``portable``.
DETERMINISM_ENV = "EMOREC_DETERMINISM"


def cpu_model() -> str:
    """This machine's CPU model name (``/proc/cpuinfo``), for benchmark and run records."""
    import platform

    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def set_pipeline_env(threads: int | None = None, *, determinism: str | None = None) -> None:
    """Set :data:`PIPELINE_ENV`, pin kernels when ``determinism`` is ``portable``
    (:data:`PORTABLE_ENV`; ``fast`` leaves each library its best), and, when given, cap
    native thread pools to ``threads``."""
    for key, value in PIPELINE_ENV.items():
        os.environ.setdefault(key, value)
    if determinism is not None and determinism not in DETERMINISM:
        raise ValueError(f"determinism must be one of {', '.join(DETERMINISM)}, got {determinism!r}")
    if determinism is not None:
        os.environ[DETERMINISM_ENV] = determinism
    if determinism == "portable":
        os.environ.update(PORTABLE_ENV)
    if threads is not None:
        for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[key] = str(threads)


@contextmanager
def rule_context(log_path: str | Path, *, threads: int = 1) -> Iterator[logging.Logger]:
    """Log to ``log_path`` and stderr, cap BLAS/OpenMP threads, and turn known errors into
    a one-line message (logged, and printed to stderr) with exit status 1."""
    set_pipeline_env(threads)
    from threadpoolctl import threadpool_limits

    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.FileHandler(log_path, mode="w"),
        logging.StreamHandler(sys.stderr),
    ]
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    log = logging.getLogger("emorec")
    with threadpool_limits(limits=threads):
        try:
            yield log
        except EmorecError as exc:
            log.error("%s", exc)
            logging.shutdown()
            sys.exit(1)
