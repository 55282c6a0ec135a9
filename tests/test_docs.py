"""The docs stay honest: links and named paths exist, and the Quick start is what CI runs."""

import re
import shlex
from pathlib import Path

from conftest import REPO

#: Folders whose files are all in git: a path under them named in the docs must exist.
#: (``data/`` and ``reports/`` hold run outputs, named in the docs before any run made them.)
CHECKED_ROOTS = ("workflow", "docs", "config", "benchmarks", "tests", "profiles", ".ci", "emorec")
SKIPPED_DIRS = {
    ".venv",
    ".git",
    ".snakemake",
    "data",
    "reports",
    "mlruns",
    "node_modules",
    ".ruff_cache",
    ".dvc",
}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")


def markdown_files(root: Path) -> list[Path]:
    """Every ``*.md`` of the repository, outside run outputs and tool folders."""
    return sorted(p for p in root.rglob("*.md") if not SKIPPED_DIRS & set(p.relative_to(root).parts[:-1])) + [
        p for p in (root / "data").glob("*.md")
    ]


def broken_references(md: Path, root: Path) -> list[str]:
    """The relative links of ``md`` whose target is missing, and the repository paths it
    names in backticks (under :data:`CHECKED_ROOTS`) that do not exist."""
    text = md.read_text()
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL, a mailto: or an anchor in the same page
        path = target.split("#", 1)[0]
        if not (md.parent / path).exists():
            broken.append(f"{md.relative_to(root)}: link {target}")
    for token in CODE.findall(text):
        if any(c in token for c in "<>{}*$|") or "..." in token:
            continue  # a pattern, a placeholder or a shell expression, not a path
        name = token.rstrip("/:,.")
        if "/" in name and name.split("/", 1)[0] in CHECKED_ROOTS and not (root / name).exists():
            broken.append(f"{md.relative_to(root)}: path `{token}`")
    return broken


def test_every_relative_link_and_named_path_exists():
    broken = [b for md in markdown_files(REPO) for b in broken_references(md, REPO)]
    assert not broken, "broken links or paths:\n" + "\n".join(broken)


def test_the_checker_finds_a_broken_link_and_a_wrong_path(tmp_path):
    """The check above can fail: a missing link target and a path without its folder."""
    (tmp_path / "workflow" / "emorec").mkdir(parents=True)
    (tmp_path / "workflow" / "emorec" / "codedeps.py").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/here.md) [gone](docs/gone.md#part) [web](https://example.org) [anchor](#top)\n"
        "`workflow/emorec/codedeps.py` `emorec/codedeps.py` `data/features/audio.parquet` `reports/<model>/`\n"
    )
    assert broken_references(page, tmp_path) == [
        "README.md: link docs/gone.md#part",
        "README.md: path `emorec/codedeps.py`",
    ]


def quick_start_commands(readme: str) -> list[str]:
    """The commands of the README's Quick start code block, split at ``&&``."""
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [part.strip() for line in block.strip().splitlines() for part in line.split("&&")]


def normalised(command: str) -> list[str]:
    """A command's words without pip's quietening options and with CI's ``$PYTHON`` spelled out."""
    words = shlex.split(command.replace('"$PYTHON"', "python3.11"))
    return [w for w in words if w not in ("--quiet", "--disable-pip-version-check")]


def test_quick_start_installs_and_tests_as_ci_does():
    """CI (``.ci/run``) runs the README's install and test commands; the main command is the
    pipeline itself and ``dvc commit``, which the tests run on the tiny config."""
    commands = quick_start_commands((REPO / "README.md").read_text())
    ci_commands = []
    for line in (REPO / ".ci" / "run").read_text().splitlines():
        try:
            ci_commands.append(" ".join(normalised(line.strip())))
        except ValueError:  # a line of a multi-line shell construct, not a command
            continue
    for command in commands:
        if command.startswith((".venv/bin/snakemake", ".venv/bin/dvc")):
            continue  # the pipeline and its hand-over to DVC: tests/test_dvc_remote.py runs both
        assert " ".join(normalised(command)) in ci_commands, (
            f"Quick start's {command!r} is not what .ci/run runs"
        )
    assert any(c.startswith(".venv/bin/pytest") for c in commands)
