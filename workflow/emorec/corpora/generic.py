"""Speech corpora declared in the params alone, with no code of their own.

``corpora.<name>.kind`` says how a member becomes a manifest row:

- ``pattern``: a Python regular expression (or a list of them, the first that matches wins)
  with named groups, matched in full against each member's file name (``match: name``, the
  default) or its path inside the archive (``match: path``). ``speaker`` and ``label`` are
  required; ``sex`` and ``clip`` (the sample id's last part; else the file's stem) are used
  when present, and any other named group is kept as a column of the manifest.
- ``manifest``: a CSV inside the archive (``manifest: labels.csv``; its ``path`` column is
  relative to the CSV's folder) or beside it on disk (paths relative to the archive's root),
  with columns ``path``, ``label`` and ``speaker``, and optionally ``sex`` and ``split``
  (``train``, ``val`` or ``test``; it wins over the speaker split).

``labels`` maps the corpus' own labels into the unified set (:data:`emorec.labels.LABELS`); a
label mapped to ``null`` is left out on purpose, a label missing from the map is a reject.
``sex`` maps speakers to ``male`` / ``female`` (default ``unknown``). Everything else (the
safety checks, audio probing, speaker splits, rejects and summary) is the shared ingest loop's.
"""

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from emorec.archives import Archive
from emorec.corpora.audio_ingest import MemberParser, NotUsed
from emorec.corpora.speech_names import manifest_fields
from emorec.errors import DataError
from emorec.labels import LABELS

KINDS = ("pattern", "manifest")
#: Named groups a pattern may use for the manifest's own columns; other groups become columns.
ROLE_GROUPS = ("speaker", "label", "sex", "clip")
SEXES = {"m": "male", "male": "male", "f": "female", "female": "female"}
SPLITS = ("train", "val", "test")


def is_generic(spec: Mapping[str, Any]) -> bool:
    """Whether a speech corpus' params declare it generically (``kind`` pattern or manifest)
    rather than by its module (face-image sets: :mod:`emorec.corpora.image_folders`)."""
    return spec.get("kind") in KINDS


def patterns(spec: Mapping[str, Any]) -> list[re.Pattern[str]]:
    """The compiled ``pattern`` (one or a list); ``ValueError`` saying what is wrong."""
    raw = spec["pattern"]
    compiled = []
    for i, text in enumerate([raw] if isinstance(raw, str) else raw):
        where = "pattern" if isinstance(raw, str) else f"pattern[{i}]"
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise ValueError(f"{where} does not compile: {exc}") from None
        missing = [g for g in ("speaker", "label") if g not in pattern.groupindex]
        if missing:
            raise ValueError(f"{where} has no named group {' or '.join(f'(?P<{g}>...)' for g in missing)}")
        compiled.append(pattern)
    return compiled


def spec_errors(name: str, spec: Mapping[str, Any]) -> list[str]:
    """What is wrong with a generic corpus' params, each naming its key (beyond the schema)."""
    errors = []
    if spec["kind"] == "pattern":
        try:
            patterns(spec)
        except ValueError as exc:
            errors.append(f"corpora.{name}.{exc}")
    unknown = sorted(str(v) for v in spec["labels"].values() if v is not None and v not in LABELS)
    if unknown:
        errors.append(
            f"corpora.{name}.labels: {', '.join(unknown)} not in the unified labels ({', '.join(LABELS)})"
        )
    return errors


def _sex(value: str | None) -> str:
    return SEXES.get((value or "").strip().lower(), "unknown")


def manifest_row(
    corpus: str, spec: Mapping[str, Any], fields: Mapping[str, str], *, member: str
) -> dict[str, Any]:
    """The manifest fields of one member from its ``speaker``, ``label`` (as the corpus names
    it), optional ``sex`` and ``clip``, and extra fields; ``ValueError`` / :class:`NotUsed`
    with the reason it cannot be used."""
    speaker = (fields.get("speaker") or "").strip()
    original = (fields.get("label") or "").strip()
    if not speaker:
        raise ValueError("empty speaker")
    if original not in spec["labels"]:
        raise ValueError(f"label not in corpora.{corpus}.labels ({original!r})")
    label = spec["labels"][original]
    if label is None:
        raise NotUsed(f"label {original!r} is mapped to null in corpora.{corpus}.labels")
    sex = _sex(fields["sex"]) if fields.get("sex") else _sex(spec.get("sex", {}).get(speaker))
    clip = fields.get("clip") or PurePosixPath(member).stem
    extra = {k: v for k, v in fields.items() if k not in (*ROLE_GROUPS, "split", "path")}
    return {**manifest_fields(corpus, speaker, clip, label, original, sex), **extra}


def pattern_parser(corpus: str, spec: Mapping[str, Any]) -> MemberParser:
    """The member parser of a ``kind: pattern`` corpus."""
    compiled = patterns(spec)
    on_path = spec.get("match", "name") == "path"

    def parse(member: str) -> dict[str, Any]:
        target = member if on_path else PurePosixPath(member).name
        for pattern in compiled:
            found = pattern.fullmatch(target)
            if found:
                fields = {k: v for k, v in found.groupdict().items() if v is not None}
                return manifest_row(corpus, spec, fields, member=member)
        raise ValueError(f"matches no corpora.{corpus}.pattern ({target!r})")

    return parse


def read_manifest_csv(corpus: str, spec: Mapping[str, Any], arc: Archive) -> tuple[str, str, bytes]:
    """``(name, folder, bytes)`` of a ``kind: manifest`` corpus' CSV: a member of the archive
    (paths relative to its folder) or a file beside it (paths relative to the archive's root)."""
    name = spec["manifest"]
    names, _ = arc.members()
    if name in names:
        return name, str(PurePosixPath(name).parent), arc.read(name)
    beside = Path(name)
    if beside.is_file():
        return name, ".", beside.read_bytes()
    raise DataError(f"corpora.{corpus}.manifest: {name} is neither in {arc.path} nor a file")


def manifest_parser(
    corpus: str, spec: Mapping[str, Any], csv_name: str, folder: str, data: bytes, members: Sequence[str]
) -> tuple[MemberParser, list[tuple[str, str]]]:
    """The member parser of a ``kind: manifest`` corpus, and the CSV rows it rejects (missing
    file, duplicate path, bad split), each named ``<csv>:<line>``."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    missing = [c for c in ("path", "label", "speaker") if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"corpora.{corpus}.manifest {csv_name}: no column {', '.join(missing)}")
    present = set(members)
    rows: dict[str, dict[str, str]] = {}
    first_line: dict[str, int] = {}
    rejects = []
    for line, row in enumerate(reader, start=2):
        where = f"{csv_name}:{line}"
        path = (row.get("path") or "").strip()
        member = str(PurePosixPath(folder) / path) if folder != "." else path
        if not path:
            rejects.append((where, "empty path"))
        elif member in rows:
            rejects.append((where, f"duplicate path {path} (first at line {first_line[member]})"))
        elif member not in present:
            rejects.append((where, f"file not in the archive ({path})"))
        elif (row.get("split") or "").strip() not in ("", *SPLITS):
            rejects.append((where, f"split {row['split']!r} (expected one of {', '.join(SPLITS)})"))
        else:
            rows[member] = {k: (v or "").strip() for k, v in row.items() if k is not None}
            first_line[member] = line

    def parse(member: str) -> dict[str, Any]:
        if member not in rows:
            raise ValueError(f"not listed in the manifest ({csv_name})")
        fields = rows[member]
        parsed = manifest_row(corpus, spec, fields, member=member)
        if fields.get("split"):
            parsed["split"] = fields["split"]
        return parsed

    return parse, rejects


def extra_columns(spec: Mapping[str, Any]) -> list[pa.Field]:
    """String columns a pattern's extra named groups add to the manifest."""
    if spec["kind"] != "pattern":
        return []
    names = dict.fromkeys(g for p in patterns(spec) for g in p.groupindex if g not in ROLE_GROUPS)
    return [pa.field(name, pa.string()) for name in names]
