"""Writing what ingest found: manifest, rejects and a summary, with the reject-fraction gate."""

import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from emorec.errors import DataError
from emorec.jsonio import write_json
from emorec.tables import REJECTS, rejects_table, write_table

log = logging.getLogger(__name__)


def ingest_summary(
    manifest: pa.Table, *, corpus: str, archive: str, sha256: str, rejects: list[tuple[str, str]]
) -> dict[str, Any]:
    """Counts by split, label and reject reason, plus the archive's checksum."""
    reasons = Counter(reason.split(" (")[0] for _, reason in rejects)
    return {
        "corpus": corpus,
        "archive": archive,
        "archive_sha256": sha256,
        "samples": manifest.num_rows,
        "rejects": len(rejects),
        "splits": dict(sorted(Counter(manifest.column("split").to_pylist()).items())),
        "labels": dict(sorted(Counter(manifest.column("label").to_pylist()).items())),
        "reject_reasons": dict(sorted(reasons.items())),
    }


def write_ingest(
    manifest: pa.Table,
    *,
    schema: pa.Schema,
    corpus: str,
    archive: str | Path,
    sha256: str,
    rejects: list[tuple[str, str]],
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    max_reject_fraction: float,
) -> dict[str, Any]:
    """Write manifest, rejects and summary JSON; fail when rejects exceed the allowed fraction.

    The tables are written before the check, so a failing run still logs every reason.
    """
    write_table(manifest.sort_by("sample_id"), manifest_path, schema)
    write_table(rejects_table(corpus, str(archive), sorted(rejects)), rejects_path, REJECTS)
    summary = ingest_summary(manifest, corpus=corpus, archive=str(archive), sha256=sha256, rejects=rejects)
    write_json(summary_path, summary)
    log.info("%s: %d samples, %d rejects from %s", corpus, manifest.num_rows, len(rejects), archive)
    for item, reason in sorted(rejects):
        log.warning("rejected %s: %s", item, reason)
    check_reject_fraction(summary, max_reject_fraction=max_reject_fraction)
    return summary


#: The reject reason of members left out on purpose; they do not count as unusable.
NOT_USED = "not used"


def check_reject_fraction(summary: Mapping[str, Any], *, max_reject_fraction: float) -> None:
    """Raise :class:`DataError` when too much of an archive was unusable (or nothing was);
    members left out on purpose (reason :data:`NOT_USED`) count on neither side."""
    unusable = summary["rejects"] - summary["reject_reasons"].get(NOT_USED, 0)
    total = summary["samples"] + unusable
    fraction = unusable / total if total else 1.0
    if summary["samples"] == 0 or fraction > max_reject_fraction:
        raise DataError(
            f"{summary['archive']}: {unusable} of {total} members or rows rejected "
            f"({fraction:.1%} > ingest.max_reject_fraction {max_reject_fraction:.1%}); "
            f"reasons: {summary['reject_reasons']}. Is this the right archive?"
        )
