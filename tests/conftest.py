"""Shared test helpers: paths, tiny in-memory audio, and zip building."""

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
TINY = REPO / "tests" / "config" / "tiny.yaml"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
ENV.pop("MLFLOW_TRACKING_URI", None)
#: Screenshots the browser tests take (git-ignored; CI keeps them as artefacts).
ARTEFACTS = REPO / "tests" / "artefacts"


@contextmanager
def headless_chromium(width: int = 1000, height: int = 900, flags: Sequence[str] = ()) -> Iterator:
    """A page in Debian's headless Chromium through chromium-driver. Skips where they are
    absent, except under CI, whose ``.ci/run`` installs them."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None
    )
    if not browser or not driver:
        if os.environ.get("CI"):
            raise AssertionError("CI must install chromium and chromium-driver (.ci/run does)")
        pytest.skip("chromium / chromium-driver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        *flags,
    ):
        options.add_argument(flag)
    page = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield page
    finally:
        page.quit()


def snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir``."""
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True, env=env or ENV
    )


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> Path:
    """The whole DAG on the tiny demo config, once per session (test_workflow, test_serving)."""
    workdir = tmp_path_factory.mktemp("e2e")
    result = snakemake(workdir, "-j2", "--configfile", str(TINY))
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def emorec_serve(run: Path, port: int, *args: str) -> subprocess.Popen:
    """``emorec serve`` on 127.0.0.1:``port`` with the models of the tiny run in ``run``;
    ``args`` add options (``--max-mb 1``, another ``--configfile``)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emorec.cli",
            "serve",
            "--port",
            str(port),
            "--root",
            str(run),
            "--configfile",
            str(TINY),
            *args,
        ],
        cwd=run,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    """Wait until ``url`` answers; fail with the server's output if it exits first."""
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read()[-3000:] if process.stdout else ''}")
        try:
            requests.get(url, timeout=10)
            return
        except (
            requests.ConnectionError,
            requests.Timeout,
        ):  # not listening yet, or busy starting on a loaded machine
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def wav_bytes(seconds: float = 0.5, sample_rate: int = 16000, channels: int = 1, seed: int = 0) -> bytes:
    """A short noisy tone as PCM16 WAV bytes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=t.size)
    audio = np.repeat(mono[:, None], channels, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write ``members`` (name -> bytes) into a zip at ``path``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``, or skip when this checkout has none (a user's fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
