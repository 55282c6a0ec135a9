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


def set_pipeline_env(threads: int | None = None) -> None:
    """Set :data:`PIPELINE_ENV` and, when given, cap native thread pools to ``threads``."""
    for key, value in PIPELINE_ENV.items():
        os.environ.setdefault(key, value)
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
    handlers: list[logging.Handler] = [logging.FileHandler(log_path, mode="w"), logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
    log = logging.getLogger("emorec")
    with threadpool_limits(limits=threads):
        try:
            yield log
        except EmorecError as exc:
            log.error("%s", exc)
            logging.shutdown()
            sys.exit(1)
