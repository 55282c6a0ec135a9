"""The audio track of every full-AV clip -> the same audio features as the speech corpora.

The AAC track is decoded from the MP4 in place (:func:`emorec.video_io.decode_audio_track`)
and goes through :func:`emorec.features.audio.audio_feature_table`, so an audio model reads a
clip's own voice exactly as it reads an audio-only file.
"""

import logging
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emorec.archives import open_archive
from emorec.errors import DataError
from emorec.features.audio import AudioFeatureParams, audio_feature_table
from emorec.tables import write_table
from emorec.video_io import decode_audio_track

log = logging.getLogger(__name__)


def extract_av_audio(
    *,
    manifest_path: str | Path,
    output_path: str | Path,
    params: AudioFeatureParams,
    max_compression_ratio: float = 100.0,
) -> int:
    """Audio features of every full-AV clip of a video manifest; returns the row count."""
    manifest = pq.read_table(manifest_path)
    rows = manifest.filter(pc.equal(manifest.column("av"), "full_av")).sort_by("sample_id")
    started = time.perf_counter()
    tables = []
    for archive in sorted(set(rows.column("archive").to_pylist())):
        mine = rows.filter(pc.equal(rows.column("archive"), archive))
        with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
            clips = []
            for member in mine.column("member").to_pylist():
                try:
                    clips.append(decode_audio_track(arc.read(member), sample_rate=params.sample_rate))
                except RuntimeError as exc:
                    raise DataError(f"{archive}:{member}: full-AV clip without usable audio ({exc})") from exc
            tables.append(audio_feature_table(mine, clips, params))
        log.info("%s: %d audio tracks (%.1f s)", archive, mine.num_rows, time.perf_counter() - started)
    table = pa.concat_tables(tables) if tables else params.schema.empty_table()
    write_table(table, output_path, params.schema)
    return table.num_rows
