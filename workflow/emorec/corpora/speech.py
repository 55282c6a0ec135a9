"""Ingest of the speech corpora beside RAVDESS into the common audio manifest, with held-out
speakers as in :mod:`emorec.corpora.ravdess`: TESS, SAVEE and CREMA-D by their own filename
parsers, and any corpus the params declare with a ``kind`` (:mod:`emorec.corpora.generic`)."""

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from emorec.archives import open_archive
from emorec.corpora import generic
from emorec.corpora.audio_ingest import MemberParser, ingest_audio_archive, write_audio_ingest
from emorec.corpora.speech_names import cremad_sexes, parse_cremad_name, parse_savee_name, parse_tess_name
from emorec.errors import DataError
from emorec.ingest import NOT_USED
from emorec.splits import SpeakerSplit
from emorec.tables import AUDIO_MANIFEST

log = logging.getLogger(__name__)

PARSERS: dict[str, MemberParser] = {
    "tess": parse_tess_name,
    "savee": parse_savee_name,
    "cremad": parse_cremad_name,
}
#: The common audio manifest plus ``inferred``: what a parser took from a member's folder
#: because its file name fell short of the corpus pattern ("" when nothing was).
NAMED_MANIFEST = pa.schema([*AUDIO_MANIFEST, pa.field("inferred", pa.string())])


def member_parser(
    corpus: str, archive: str | Path, *, max_compression_ratio: float, spec: Mapping[str, Any] | None = None
) -> tuple[MemberParser, list[tuple[str, str]]]:
    """The member parser of ``corpus`` and the rejects it finds before reading any member
    (rows of a generic corpus' manifest CSV). A generic ``spec`` (with ``kind``) decides;
    otherwise the corpus' own parser, where CREMA-D's learns speaker sex from the archive's
    ``VideoDemographics.csv`` when there is one."""
    if spec is not None and generic.is_generic(spec):
        if spec["kind"] == "pattern":
            return generic.pattern_parser(corpus, spec), []
        with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
            csv_name, folder, data = generic.read_manifest_csv(corpus, spec, arc)
            names, _ = arc.members()
        return generic.manifest_parser(corpus, spec, csv_name, folder, data, names)
    if corpus not in PARSERS:
        raise DataError(f"no filename parser for corpus {corpus!r}; known: {', '.join(PARSERS)}")
    if corpus != "cremad":
        return PARSERS[corpus], []
    with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
        names, _ = arc.members()
        table = [n for n in names if Path(n).name == "VideoDemographics.csv"]
        sexes = cremad_sexes(arc.read(table[0]).decode("utf-8-sig")) if table else {}
    return partial(parse_cremad_name, sexes=sexes), []


def ingest_speech_corpus(
    *,
    corpus: str,
    archive: str | Path,
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    val_speakers: Sequence[str],
    test_speakers: Sequence[str],
    max_reject_fraction: float,
    max_compression_ratio: float,
    threads: int = 1,
    spec: Mapping[str, Any] | None = None,
) -> None:
    """Ingest a speech archive (zip, tar.gz or folder) into manifest, rejects and summary
    files: TESS, SAVEE or CREMA-D, or a generic corpus whose params ``spec`` has a ``kind``.
    Speakers are given as in the corpus (``OAF``, ``DC``, ``1001``)."""
    split = SpeakerSplit(
        val=[f"{corpus}-{s}" for s in val_speakers], test=[f"{corpus}-{s}" for s in test_speakers]
    )
    parse, early_rejects = member_parser(
        corpus, archive, max_compression_ratio=max_compression_ratio, spec=spec
    )
    result = ingest_audio_archive(
        archive,
        corpus=corpus,
        parse_member=parse,
        split_of=lambda row: row.get("split") or split.of(row["speaker"]),
        describe_other=lambda name: (
            f"{NOT_USED} (the corpus manifest)" if name == (spec or {}).get("manifest") else None
        ),
        max_compression_ratio=max_compression_ratio,
        threads=threads,
    )
    result.rejects = sorted(result.rejects + early_rejects)
    schema = NAMED_MANIFEST
    if spec is not None and generic.is_generic(spec):
        schema = pa.schema([*NAMED_MANIFEST, *generic.extra_columns(spec)])
    for row in result.rows:
        if row["inferred"]:
            log.info("%s: %s", row["member"], row["inferred"])
    write_audio_ingest(
        result,
        schema=schema,
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )
