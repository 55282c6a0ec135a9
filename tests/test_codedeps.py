import subprocess
import sys
from pathlib import Path

from conftest import REPO

from emorec.codedeps import module_files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_module_files_follow_imports_transitively(tmp_path):
    write(tmp_path / "emorec/__init__.py", "")
    write(tmp_path / "emorec/sub/__init__.py", "")
    write(
        tmp_path / "emorec/sub/a.py",
        "import numpy\n\ndef f():\n    from emorec import b  # a lazy import counts\n",
    )
    write(tmp_path / "emorec/b.py", "from emorec.sub.c import thing\n")
    write(tmp_path / "emorec/sub/c.py", "thing = 1\n")
    write(tmp_path / "emorec/unused.py", "")
    script = write(tmp_path / "scripts/run.py", "from emorec.sub.a import f\nimport os\n")
    found = {str(p.relative_to(tmp_path)) for p in module_files(script, tmp_path)}
    assert found == {
        "emorec/__init__.py",
        "emorec/sub/__init__.py",
        "emorec/sub/a.py",
        "emorec/b.py",
        "emorec/sub/c.py",
    }


def test_rules_list_the_modules_their_scripts_run(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "-F",
            "data/features/audio.parquet",
            "reports/results.md",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    jobs = {block.split(":")[0].split()[-1]: block for block in result.stdout.split("rule ")[1:]}
    shard_inputs = next(line for line in jobs["audio_features_shard"].splitlines() if "input:" in line)
    assert "emorec/features/spectral.py" in shard_inputs and "emorec/features/pitch.py" in shard_inputs
    report_inputs = next(line for line in jobs["report"].splitlines() if "input:" in line)
    assert "emorec/stages/report.py" in report_inputs and "keras" not in report_inputs
