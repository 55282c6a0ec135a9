"""Lint, format and types, as configured in pyproject.toml: the same checks as pre-commit."""

import subprocess
import sys

import pytest
from conftest import REPO

CHECKS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "workflow", "benchmarks", "tests"],
    "ruff format --check": [
        sys.executable,
        "-m",
        "ruff",
        "format",
        "--check",
        "workflow",
        "benchmarks",
        "tests",
    ],
    "mypy": [sys.executable, "-m", "mypy"],  # files and options from pyproject.toml
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_code_passes(name):
    result = subprocess.run(CHECKS[name], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
