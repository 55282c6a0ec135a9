"""Flat metrics files and the results table: what `dvc metrics diff` and the README show.

Every stage writes its scalars as flat ``dotted.key -> number`` JSON; :func:`merge_metrics`
joins them into ``reports/metrics.json``, and :func:`results_markdown` renders the README's
results table from that one file.
"""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emorec.errors import DataError
from emorec.jsonio import read_json, write_json

#: Decimal places kept in metrics files: stable diffs, no float noise.
DECIMALS = 6
SUMMARY_METRICS = ("accuracy", "macro_f1", "balanced_accuracy", "top2_accuracy")
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def scalar(value: Any) -> float | int:
    """A JSON number: ints stay ints, floats are rounded to :data:`DECIMALS`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return round(float(value), DECIMALS)


def write_metrics(path: str | Path, metrics: Mapping[str, Any]) -> None:
    """Write flat scalar metrics."""
    write_json(path, {k: scalar(v) for k, v in metrics.items()})


def merge_metrics(paths: Iterable[str | Path]) -> dict[str, float | int]:
    """One flat dict from several metrics files; a key found twice is an error."""
    merged: dict[str, float | int] = {}
    for path in paths:
        for key, value in read_json(path).items():
            if key in merged:
                raise DataError(f"{path}: metric {key} is also reported by another stage")
            merged[key] = value
    return dict(sorted(merged.items()))


def results_markdown(metrics: Mapping[str, float | int]) -> str:
    """A markdown table of the test metrics of every model and fusion method."""
    rows: dict[str, dict[str, float | int]] = {}
    for key, value in metrics.items():
        match = re.fullmatch(r"(.+)\.test\.(\w+)", key)
        if match and match.group(2) in SUMMARY_METRICS + ("n",):
            rows.setdefault(match.group(1), {})[match.group(2)] = value
    header = "| model | test samples | accuracy | macro-F1 | UAR | top-2 |\n|---|---:|---:|---:|---:|---:|\n"
    lines = [
        f"| `{name}` | {row.get('n', '')} | " + " | ".join(f"{row[m]:.3f}" if m in row else "" for m in SUMMARY_METRICS) + " |"
        for name, row in sorted(rows.items(), key=lambda item: (item[0].startswith("fusion"), item[0]))
    ]
    return header + "\n".join(lines) + "\n"


def update_readme(readme: str | Path, metrics_path: str | Path) -> bool:
    """Replace the results block of ``readme`` with the table of ``metrics_path``;
    True when the file changed."""
    readme = Path(readme)
    text = readme.read_text()
    table = results_markdown(read_json(metrics_path))
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise DataError(f"{readme}: no {README_START} ... {README_END} block to fill")
    new = pattern.sub(lambda _: f"{README_START}\n{table}{README_END}", text)
    readme.write_text(new)
    return new != text


def write_report(metric_files: Iterable[str | Path], *, metrics_path: str | Path, results_path: str | Path) -> dict[str, float | int]:
    """Merge the stages' metrics into ``metrics_path`` and render ``results_path``."""
    merged = merge_metrics(metric_files)
    write_json(metrics_path, merged)
    Path(results_path).write_text(results_markdown(merged))
    return merged


if __name__ == "__main__":  # python -m emorec.stages.report  -> refresh the README table
    import sys

    changed = update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md", sys.argv[2] if len(sys.argv) > 2 else "reports/metrics.json")
    print("README results table " + ("updated" if changed else "already up to date"))
