"""The environment the pipeline sets for its jobs: kernel pinning in portable mode."""

import os
import subprocess
import sys

import pytest

from emorec.runner import DETERMINISM_ENV, PORTABLE_ENV, set_pipeline_env

EMULATED = {
    "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
    "NPY_DISABLE_CPU_FEATURES": "",
    "OPENBLAS_CORETYPE": "SkylakeX",
    "OPENCV_IPP": "sse42",
}


def run_under_portable_env(code: str, **users: str) -> subprocess.CompletedProcess:
    """Python ``code`` in a new process started as the Snakefile starts a job: the user's own
    variables ``users``, then the portable environment over them."""
    env = {**os.environ, **users, **PORTABLE_ENV}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)


@pytest.fixture
def clean_env(monkeypatch):
    for key in [*PORTABLE_ENV, "OMP_NUM_THREADS", DETERMINISM_ENV]:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_portable_pins_every_kernel_choice_over_the_users_own(clean_env):
    for key, value in EMULATED.items():
        clean_env.setenv(key, value)
    set_pipeline_env(2, determinism="portable")
    assert {k: os.environ[k] for k in PORTABLE_ENV} == PORTABLE_ENV
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2" and os.environ["OMP_NUM_THREADS"] == "2"
    assert os.environ[DETERMINISM_ENV] == "portable"  # read by the Keras jobs


def test_fast_leaves_kernel_choices_to_the_libraries_and_the_user(clean_env):
    clean_env.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    set_pipeline_env(determinism="fast")
    assert os.environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ and "NPY_DISABLE_CPU_FEATURES" not in os.environ
    assert os.environ[DETERMINISM_ENV] == "fast"


def test_unknown_mode_fails_clearly():
    with pytest.raises(ValueError, match="determinism must be one of portable, fast"):
        set_pipeline_env(determinism="exact")


def test_numpy_under_the_portable_env_runs_no_avx512_loops():
    """NumPy reads NPY_DISABLE_CPU_FEATURES at import: a job started with the portable
    environment dispatches to its AVX2 loops at most, on any CPU."""
    out = run_under_portable_env(
        "import numpy._core._multiarray_umath as m; print(sorted(k for k in m.__cpu_dispatch__ if m.__cpu_features__.get(k)))"
    )
    assert set(eval(out.stdout)) <= {"X86_V3"}, out.stdout + out.stderr


def test_opencv_under_the_portable_env_runs_ipps_avx2_code():
    """OpenCV's Intel IPP reads OPENCV_IPP when it loads: a job started with the portable
    environment runs IPP's AVX2 (l9) code, not its AVX-512 (k0) one, whatever the user set."""
    out = run_under_portable_env("import cv2; print(cv2.ipp.getIppVersion())", OPENCV_IPP="sse42")
    assert "AVX2 (l9)" in out.stdout, out.stdout + out.stderr
