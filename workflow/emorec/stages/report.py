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
REAL_START, REAL_END = "<!-- real-results:start -->", "<!-- real-results:end -->"
#: Cross-corpus test sets of the real profile, as the real-results table names them.
CROSS_CORPORA = {"savee": "SAVEE", "tess": "TESS", "cremad": "CREMA-D"}


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
        f"| `{name}` | {row.get('n', '')} | "
        + " | ".join(f"{row[m]:.3f}" if m in row else "" for m in SUMMARY_METRICS)
        + " |"
        for name, row in sorted(
            rows.items(), key=lambda item: (item[0].split(".")[0] in ("fusion", "av"), item[0])
        )
    ]
    return header + "\n".join(lines) + "\n"


def _pct(metrics: Mapping[str, float | int], key: str) -> str:
    return f"{100 * metrics[key]:.1f}" if key in metrics else ""


def _mean_std(metrics: Mapping[str, float | int], key: str) -> str:
    return (
        f"{100 * metrics[key + '.mean']:.1f} ± {100 * metrics[key + '.std']:.1f}"
        if key + ".mean" in metrics
        else ""
    )


def real_results_markdown(metrics: Mapping[str, float | int]) -> str:
    """The README's real-data tables (percentages): every audio model on the held-out RAVDESS
    actors, by k-fold CV, and cross-corpus on the shared classes; the face models on FER2013's
    PrivateTest; fusion on simulated pairs."""
    audio = sorted(
        {k.split(".")[1] for k in metrics if k.startswith("audio.") and k.endswith(".test.accuracy")}
    )
    cross = [
        c
        for c in CROSS_CORPORA
        if any(k.startswith("audio.") and f".{c}.test.shared.n" in k for k in metrics)
    ]
    inductive = any(".cv.inductive." in k for k in metrics)
    lines = [
        "| audio model | RAVDESS test acc. | UAR | macro-F1 | CV acc. (mean ± std) | CV UAR | "
        + ("inductive CV UAR | " if inductive else "")
        + " | ".join(f"→ {CROSS_CORPORA[c]} UAR (n)" for c in cross)
        + " |",
        "|---|" + "---:|" * (5 + inductive + len(cross)),
    ]
    for m in audio:
        p = f"audio.{m}"
        rav = f"{p}.ravdess.test" if f"{p}.ravdess.test.accuracy" in metrics else f"{p}.test"
        cells = [
            _pct(metrics, f"{rav}.accuracy"),
            _pct(metrics, f"{rav}.balanced_accuracy"),
            _pct(metrics, f"{rav}.macro_f1"),
            _mean_std(metrics, f"{p}.cv.accuracy"),
            _mean_std(metrics, f"{p}.cv.uar"),
        ]
        cells += [_mean_std(metrics, f"{p}.cv.inductive.uar")] if inductive else []
        cells += [
            f"{_pct(metrics, f'{p}.{c}.test.shared.balanced_accuracy')} ({metrics.get(f'{p}.{c}.test.shared.n', '')})"
            for c in cross
        ]
        lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
    unique = any(k.startswith("visual.") and ".test_unique." in k for k in metrics)
    lines += [
        "",
        "| face model | FER2013 PrivateTest acc. | UAR | macro-F1 | n |"
        + (" acc. without faces also in Training (n) |" if unique else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if unique else ""),
    ]
    for m in sorted(
        {k.split(".")[1] for k in metrics if k.startswith("visual.") and k.endswith(".test.accuracy")}
    ):
        p, q = f"visual.{m}.test", f"visual.{m}.test_unique"
        lines.append(
            f"| `{m}` | {_pct(metrics, p + '.accuracy')} | {_pct(metrics, p + '.balanced_accuracy')} | {_pct(metrics, p + '.macro_f1')} | {metrics.get(p + '.n', '')} |"
            + (f" {_pct(metrics, q + '.accuracy')} ({metrics.get(q + '.n', '')}) |" if unique else "")
        )
    sex_models = sorted(
        {k.split(".")[1] for k in metrics if k.startswith("audio_sex.") and k.endswith(".test.accuracy")}
    )
    if sex_models:
        corpora = [
            c
            for c in ("ravdess", *CROSS_CORPORA)
            if any(k.startswith(f"audio_sex.{m}.{c}.test.") for m in sex_models for k in metrics)
        ]
        names = {"ravdess": "RAVDESS", **CROSS_CORPORA}
        columns = [f"{names[c]} test acc. (n)" for c in corpora] or ["test acc. (n)"]
        lines += [
            "",
            "| speaker sex from the voice | " + " | ".join(columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for m in sex_models:
            keys = [f"audio_sex.{m}.{c}.test" for c in corpora] if corpora else [f"audio_sex.{m}.test"]
            lines.append(
                f"| `{m}` | "
                + " | ".join(f"{_pct(metrics, k + '.accuracy')} ({metrics.get(k + '.n', '')})" for k in keys)
                + " |"
            )
    methods = [k.split(".")[1] for k in metrics if k.startswith("fusion.") and k.endswith(".test.accuracy")]
    if methods:
        lines += [
            "",
            f"| fusion, {metrics.get('fusion.pairs', '')} simulated test pairs | accuracy | UAR | macro-F1 |",
            "|---|---:|---:|---:|",
        ]
        for m in sorted(methods):
            p = f"fusion.{m}.test"
            lines.append(
                f"| `{m}` | {_pct(metrics, p + '.accuracy')} | {_pct(metrics, p + '.balanced_accuracy')} | {_pct(metrics, p + '.macro_f1')} |"
            )
    return "\n".join(lines) + "\n"


#: The README's generated blocks: markers, renderer, the metrics file they show.
README_BLOCKS = [
    (README_START, README_END, results_markdown, "reports/metrics.json"),
    (REAL_START, REAL_END, real_results_markdown, "reports/real/metrics.json"),
]


def update_readme(readme: str | Path, root: str | Path = ".") -> bool:
    """Refill every generated block of ``readme`` (:data:`README_BLOCKS`) from its metrics
    file under ``root`` (a missing file leaves its block alone); True when the file changed."""
    readme = Path(readme)
    text = new = readme.read_text()
    for start, end, render, metrics_path in README_BLOCKS:
        if not (Path(root) / metrics_path).exists():
            continue
        table = render(read_json(Path(root) / metrics_path))
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        found = pattern.search(new)
        if not found:
            raise DataError(f"{readme}: no {start} ... {end} block to fill")
        new = f"{new[: found.start()]}{start}\n{table}{end}{new[found.end() :]}"
    readme.write_text(new)
    return new != text


def write_report(
    metric_files: Iterable[str | Path], *, metrics_path: str | Path, results_path: str | Path
) -> dict[str, float | int]:
    """Merge the stages' metrics into ``metrics_path`` and render ``results_path``."""
    merged = merge_metrics(metric_files)
    write_json(metrics_path, merged)
    Path(results_path).write_text(results_markdown(merged))
    return merged


if __name__ == "__main__":  # python -m emorec.stages.report  -> refresh the README tables
    import sys

    changed = update_readme(
        sys.argv[1] if len(sys.argv) > 1 else "README.md", sys.argv[2] if len(sys.argv) > 2 else "."
    )
    print("README results tables " + ("updated" if changed else "already up to date"))
