"""RAVDESS video: per-actor ``Video_Speech_Actor_XX.zip`` / ``Video_Song_Actor_XX.zip``
archives (or folders) -> one video manifest of full-AV (01) and video-only (02) clips.

Names are decoded and checked exactly as for the speech archives; every clip is demuxed
(:func:`emorec.video_io.probe_video`), so a corrupt, truncated or audio-only container is a
reject with its reason, never a crash later.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from emorec.corpora.audio_ingest import IngestResult, ingest_audio_archive
from emorec.corpora.ravdess import ravdess_row
from emorec.ingest import write_ingest
from emorec.splits import SpeakerSplit
from emorec.tables import VIDEO_MANIFEST
from emorec.video_io import probe_video

#: RAVDESS modality code -> the manifest's ``av`` column; 03 (audio-only) is not video.
AV_KINDS = {1: "full_av", 2: "video_only"}


def video_row(name: str) -> dict[str, Any]:
    """Manifest columns decoded from a video member name; ``ValueError`` if unusable."""
    row = ravdess_row(name)
    if row["modality"] not in AV_KINDS:
        raise ValueError(f"modality {row['modality']:02d} (audio-only) in a video archive")
    return {**row, "av": AV_KINDS[row["modality"]]}


def video_columns(data: bytes) -> dict[str, Any]:
    """Manifest columns of a clip from its container; ``RuntimeError`` with the reason."""
    info = probe_video(data)
    return {
        "duration_s": info.duration_s,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "frames": info.frames,
        "has_audio": info.has_audio,
    }


def ingest_ravdess_video(
    *,
    archives: Sequence[str | Path],
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    val_actors: Sequence[int],
    test_actors: Sequence[int],
    max_reject_fraction: float,
    max_compression_ratio: float,
    threads: int = 1,
) -> dict[str, Any]:
    """Ingest every video archive into one manifest (column ``archive`` says where each clip
    lives), one rejects table and a summary; a clip id found in two archives is a reject."""
    split = SpeakerSplit(
        val=[f"Actor_{a:02d}" for a in val_actors], test=[f"Actor_{a:02d}" for a in test_actors]
    )
    if not archives:
        raise ValueError("corpora.ravdess_video.archives is empty")
    merged = IngestResult(corpus="ravdess_video", archive=", ".join(str(a) for a in archives), sha256="")
    seen: dict[str, str] = {}
    digests = []
    for archive in archives:
        result = ingest_audio_archive(
            archive,
            corpus="ravdess_video",
            parse_member=video_row,
            split_of=lambda row: split.of(row["speaker"]),
            max_compression_ratio=max_compression_ratio,
            threads=threads,
            suffix=".mp4",
            probe=video_columns,
        )
        merged.rejects += [(f"{archive}:{item}", reason) for item, reason in result.rejects]
        for row in result.rows:
            if row["sample_id"] in seen:
                merged.rejects.append(
                    (
                        f"{archive}:{row['member']}",
                        f"duplicate clip {row['sample_id']} (also in {seen[row['sample_id']]})",
                    )
                )
                continue
            seen[row["sample_id"]] = str(archive)
            merged.rows.append({**row, "archive": str(archive)})
        digests.append(result.sha256)
    manifest = (
        pa.Table.from_pylist(merged.rows, schema=VIDEO_MANIFEST)
        if merged.rows
        else VIDEO_MANIFEST.empty_table()
    )
    summary = write_ingest(
        manifest,
        schema=VIDEO_MANIFEST,
        corpus="ravdess_video",
        archive=merged.archive,
        sha256=",".join(digests),
        rejects=sorted(merged.rejects),
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )
    return summary
