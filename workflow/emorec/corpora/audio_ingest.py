"""The ingest loop shared by every speech corpus: archive -> manifest rows + rejects.

A corpus module supplies ``parse_member(name) -> dict`` (raising ``ValueError`` with a reason
for names it cannot use); this loop adds the safety checks, audio probing, split and counts.
"""

import hashlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from emorec.archives import Archive, file_sha256, open_archive
from emorec.audio_io import probe_wav
from emorec.ingest import write_ingest
from emorec.labels import label_id

log = logging.getLogger(__name__)

MemberParser = Callable[[str], dict[str, Any]]


class NotUsed(ValueError):
    """Raised by a member parser for a member left out on purpose (a label the params map to
    null, a corpus' own manifest file): a reject, but not counted against
    ``ingest.max_reject_fraction`` (:data:`emorec.ingest.NOT_USED`)."""


#: Member bytes -> manifest columns from its header; ``RuntimeError`` with a reason if unusable.
Probe = Callable[[bytes], dict[str, Any]]


@dataclass
class IngestResult:
    """Manifest rows and rejects of one archive, with its checksum."""

    corpus: str
    archive: str
    sha256: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)


def metadata_reason(name: str) -> str | None:
    """Why a member is operating-system clutter rather than data, or ``None``."""
    path = PurePosixPath(name)
    if "__MACOSX" in path.parts or path.name.startswith("._"):
        return "macOS metadata (__MACOSX / ._ resource fork)"
    if path.name in {".DS_Store", "Thumbs.db", "desktop.ini"}:
        return "operating-system metadata file"
    return None


def audio_columns(data: bytes) -> dict[str, Any]:
    """Manifest columns of an audio member from its header; ``RuntimeError`` if not audio."""
    info = probe_wav(data)
    return {
        "sample_rate": info.samplerate,
        "channels": info.channels,
        "frames": info.frames,
        "duration_s": info.frames / info.samplerate,
    }


def _inspect(arc: Archive, name: str, probe: Probe) -> tuple[dict[str, Any] | str, str]:
    """A member's probed columns and content hash, or the reason it is unusable (and "")."""
    data = arc.read(name)
    try:
        return probe(data), hashlib.blake2b(data, digest_size=16).hexdigest()
    except RuntimeError as exc:
        return str(exc), ""


def ingest_audio_archive(
    archive: str | Path,
    *,
    corpus: str,
    parse_member: MemberParser,
    split_of: Callable[[Mapping[str, Any]], str],
    max_compression_ratio: float,
    describe_other: Callable[[str], str | None] | None = None,
    threads: int = 1,
    suffix: str = ".wav",
    probe: Probe = audio_columns,
) -> IngestResult:
    """Read every member of a speech archive in place into manifest rows or rejects.

    Each safe ``suffix`` member whose name parses and whose header ``probe`` accepts becomes
    a row with the parser's columns plus ``member``, ``split``, ``label_id``, the probed
    header facts and a content hash; every other member becomes a reject with its reason.
    ``describe_other`` may explain another member better than its suffix (e.g. a RAVDESS
    video in a speech archive). The video ingest runs the same loop with a video probe.
    Members are read on ``threads`` threads; rows keep the members' sorted order.
    """
    seen: dict[str, str] = {}
    with (
        open_archive(archive, max_compression_ratio=max_compression_ratio) as arc,
        ThreadPoolExecutor(threads) as pool,
    ):
        checksum = pool.submit(file_sha256, archive)
        result = IngestResult(corpus=corpus, archive=str(archive), sha256="")
        names, result.rejects = arc.members()
        parsed: list[tuple[str, dict[str, Any]]] = []
        for name in names:
            reason = metadata_reason(name)
            if reason is None and not name.lower().endswith(suffix):
                reason = (
                    describe_other and describe_other(name)
                ) or f"not a {suffix} file (suffix {PurePosixPath(name).suffix or 'none'!r})"
            if reason is None:
                try:
                    row = parse_member(name)
                except NotUsed as exc:
                    reason = f"not used ({exc})"
                except ValueError as exc:
                    reason = f"unparseable name: {exc}"
            if reason is None and row["sample_id"] in seen:
                reason = f"duplicate sample id {row['sample_id']} (first seen as {seen[row['sample_id']]})"
            if reason is not None:
                result.rejects.append((name, reason))
                continue
            seen[row["sample_id"]] = name
            parsed.append((name, row))
        # reading, checking and hashing members releases the GIL: threads overlap them
        for (name, row), (info, digest) in zip(
            parsed, pool.map(lambda item: _inspect(arc, item[0], probe), parsed)
        ):
            if isinstance(info, str):
                result.rejects.append((name, info))
                continue
            row.update(
                corpus=corpus,
                member=name,
                split=split_of(row),
                label_id=label_id(row["label"]),
                content_hash=digest,
                **info,
            )
            result.rows.append(row)
        result.sha256 = checksum.result()
    result.rejects.sort()
    return result


def write_audio_ingest(result: IngestResult, *, schema: pa.Schema, **paths_and_limits: Any) -> dict[str, Any]:
    """Write an :class:`IngestResult` through :func:`emorec.ingest.write_ingest`."""
    manifest = pa.Table.from_pylist(result.rows, schema=schema) if result.rows else schema.empty_table()
    return write_ingest(
        manifest,
        schema=schema,
        corpus=result.corpus,
        archive=result.archive,
        sha256=result.sha256,
        rejects=result.rejects,
        **paths_and_limits,
    )
