"""The package modules a rule script runs, so that Snakemake reruns a rule when its code changes.

Snakemake's ``code`` rerun trigger sees a rule's own script, but the scripts are one call
into this package. Listing the modules a script reaches (its ``emorec`` imports, followed
statically with :mod:`ast`, including imports inside functions) as rule inputs makes an edit
to any of them, or a checkout of another commit, rerun exactly the rules that run that code.
"""

import ast
from functools import cache
from pathlib import Path

PACKAGE = "emorec"


def _module_file(root: Path, dotted: str) -> Path | None:
    """The file of module ``dotted`` (``emorec.x.y``) under ``root``, if it is one."""
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(source: Path) -> set[str]:
    """Dotted names of the package modules (and imported names) ``source`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodules
    return {name for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")}


@cache
def module_files(script: Path, root: Path) -> tuple[Path, ...]:
    """Every package file ``script`` reaches through imports, sorted, for package ``root``'s parent.

    Parameters
    ----------
    script : Path
        A rule script (or a package module).
    root : Path
        The folder that holds the ``emorec`` package.
    """
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for dotted in _imported_modules(todo.pop()):
            parts = dotted.split(".")
            for depth in range(1, len(parts) + 1):  # parent packages' __init__ run too
                path = _module_file(root, ".".join(parts[:depth]))
                if path is not None and path not in seen:
                    seen.add(path)
                    todo.append(path)
    return tuple(sorted(seen))
