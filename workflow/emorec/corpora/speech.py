"""Ingest of the speech corpora named by filename alone (TESS, SAVEE, CREMA-D) into the
common audio manifest, with held-out speakers as in :mod:`emorec.corpora.ravdess`."""

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pyarrow as pa

from emorec.archives import open_archive
from emorec.corpora.audio_ingest import MemberParser, ingest_audio_archive, write_audio_ingest
from emorec.corpora.speech_names import cremad_sexes, parse_cremad_name, parse_savee_name, parse_tess_name
from emorec.errors import DataError
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


def member_parser(corpus: str, archive: str | Path, *, max_compression_ratio: float) -> MemberParser:
    """The name parser of ``corpus``; CREMA-D's learns speaker sex from the archive's
    ``VideoDemographics.csv`` when there is one."""
    if corpus not in PARSERS:
        raise DataError(f"no filename parser for corpus {corpus!r}; known: {', '.join(PARSERS)}")
    if corpus != "cremad":
        return PARSERS[corpus]
    with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
        names, _ = arc.members()
        table = [n for n in names if Path(n).name == "VideoDemographics.csv"]
        sexes = cremad_sexes(arc.read(table[0]).decode("utf-8-sig")) if table else {}
    return partial(parse_cremad_name, sexes=sexes)


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
) -> None:
    """Ingest a TESS, SAVEE or CREMA-D archive (zip or folder) into manifest, rejects and
    summary files. Speakers are given as in the corpus (``OAF``, ``DC``, ``1001``)."""
    split = SpeakerSplit(
        val=[f"{corpus}-{s}" for s in val_speakers], test=[f"{corpus}-{s}" for s in test_speakers]
    )
    result = ingest_audio_archive(
        archive,
        corpus=corpus,
        parse_member=member_parser(corpus, archive, max_compression_ratio=max_compression_ratio),
        split_of=lambda row: split.of(row["speaker"]),
        max_compression_ratio=max_compression_ratio,
        threads=threads,
    )
    for row in result.rows:
        if row["inferred"]:
            log.info("%s: %s", row["member"], row["inferred"])
    write_audio_ingest(
        result,
        schema=NAMED_MANIFEST,
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )
