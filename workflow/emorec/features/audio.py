"""Audio features: aggregated frame descriptors and a fixed-size log-mel array per clip.

Clips are processed in batches: element-wise work and per-clip statistics (segment
reductions) run on the frames of all clips in a batch at once, while FFTs and matrix
products run clip by clip, so a clip's features are bit-identical whatever batch or shard it
lands in. One STFT feeds the mel spectrogram, MFCCs (with deltas), RMS, spectral centroid
and roll-off; the zero-crossing rate comes from the same frames; YIN pitch
(:mod:`emorec.features.pitch`) runs on non-silent frames only, the only ones its descriptors
use. Clips are decoded straight from the archive at the configured rate. Work is split into
shards by speaker so Snakemake runs shards in parallel; :func:`emorec.tables.merge_tables`
joins them into one table.
"""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice, pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emorec.archives import open_archive
from emorec.audio_io import decode_mono
from emorec.features.egemaps import egemaps, egemaps_names
from emorec.features.pitch import yin, zero_crossing_rate
from emorec.features.spectral import (
    clipwise_matmul,
    dct_matrix,
    frame_signal,
    mel_filters,
    power_spectrum,
    segment_deltas,
    segment_ids,
    segment_stats,
)
from emorec.tables import audio_descriptor_names, audio_features_schema, write_table

log = logging.getLogger(__name__)

#: Power floor of the log-mel arrays (dB relative to full scale); padding uses this value.
DB_FLOOR = -100.0
#: Frames quieter than this (dB below the clip's loudest frame) count as silence.
SILENCE_DB = 30.0
#: Clips per batch: large enough to amortise NumPy calls, small enough to stay in cache-friendly memory.
BATCH_CLIPS = 32


@dataclass(frozen=True)
class AudioFeatureParams:
    """The ``features.audio`` block of params.yaml."""

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mfcc: int = 20
    n_mels: int = 64
    frames: int = 128
    fmin_hz: float = 60.0
    fmax_hz: float = 500.0
    rolloff_percent: float = 0.85
    shards: int = 1
    egemaps: bool = False

    @property
    def extra_descriptors(self) -> list[str]:
        """Descriptor columns beyond the pipeline's own: eGeMAPS when asked for."""
        return egemaps_names() if self.egemaps else []

    @property
    def schema(self) -> pa.Schema:
        schema = audio_features_schema(n_mfcc=self.n_mfcc, n_mels=self.n_mels, frames=self.frames)
        at = schema.get_field_index("logmel")
        for i, name in enumerate(self.extra_descriptors):
            schema = schema.insert(at + i, pa.field(name, pa.float32()))
        return schema

    @property
    def pitch_frame_length(self) -> int:
        """YIN frames hold at least 2.2 periods of the lowest pitch searched."""
        return max(self.n_fft, int(np.ceil(2.2 * self.sample_rate / self.fmin_hz)))


def fixed_frames(logmel: np.ndarray, active: np.ndarray, *, frames: int) -> np.ndarray:
    """Crop or pad a log-mel spectrogram to ``frames`` columns, centred on the speech.

    Parameters
    ----------
    logmel : np.ndarray [shape=(n_mels, t)]
    active : np.ndarray [shape=(t,), dtype=bool]
        Frames that are not silence; the crop window is centred on their span.

    Returns
    -------
    np.ndarray [shape=(n_mels, frames), dtype=float32]
    """
    t = logmel.shape[1]
    idx = np.flatnonzero(active)
    first, last = (idx[0], idx[-1] + 1) if idx.size else (0, t)
    centre = (first + last) // 2
    start = int(np.clip(centre - frames // 2, 0, max(t - frames, 0)))
    window = logmel[:, start : start + frames]
    out = np.full((logmel.shape[0], frames), DB_FLOOR, dtype=np.float32)
    offset = (frames - window.shape[1]) // 2
    out[:, offset : offset + window.shape[1]] = window
    return out


class AudioFeatureExtractor:
    """Computes :func:`emorec.tables.audio_descriptor_names` and a log-mel array per clip."""

    def __init__(self, params: AudioFeatureParams) -> None:
        self.p = params
        self.mel_basis_t = mel_filters(
            sample_rate=params.sample_rate, n_fft=params.n_fft, n_mels=params.n_mels
        ).T
        self.dct_t = dct_matrix(n_out=params.n_mfcc, n_in=params.n_mels).T
        self.bin_hz = np.linspace(0, params.sample_rate / 2, params.n_fft // 2 + 1).astype(np.float32)

    def __call__(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features of one mono clip at ``params.sample_rate``: :meth:`batch` of one."""
        descriptors, logmels = self.batch([y])
        return descriptors[0], logmels[0]

    def _pitch(self, clips: Sequence[np.ndarray], active: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """f0 of every active frame (0 elsewhere), on frames centred like the STFT frames."""
        p = self.p
        f0 = np.zeros(active.size, dtype=np.float32)
        for y, (begin, end) in zip(clips, pairwise(starts)):
            frames = frame_signal(
                y, frame_length=p.pitch_frame_length, hop_length=p.hop_length, n_frames=end - begin
            )
            mine = active[begin:end]
            f0[begin:end][mine] = yin(frames[mine], sr=p.sample_rate, fmin=p.fmin_hz, fmax=p.fmax_hz)
        return f0

    def batch(self, clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Features of mono clips at ``params.sample_rate``.

        Parameters
        ----------
        clips : sequence of np.ndarray [shape=(n,), dtype=float32]

        Returns
        -------
        descriptors : np.ndarray [shape=(len(clips), len(audio_descriptor_names)), dtype=float32]
        logmels : np.ndarray [shape=(len(clips), n_mels, frames), dtype=float32]
        """
        p = self.p
        clips = [np.pad(y, (0, max(p.n_fft - y.size, 0))) for y in clips]
        framed = [frame_signal(y, frame_length=p.n_fft, hop_length=p.hop_length) for y in clips]
        starts = np.concatenate([[0], np.cumsum([f.shape[0] for f in framed])])
        clip_of = segment_ids(starts)

        # FFTs and products run per clip: batched, SIMD lanes could round a clip differently
        power = np.concatenate([power_spectrum(f) for f in framed])
        magnitude = np.sqrt(power)
        # The floor is applied last: log10 of the floor power may round below it on some SIMD paths
        logmel = np.maximum(
            10
            * np.log10(np.maximum(clipwise_matmul(power, self.mel_basis_t, starts), 10 ** (DB_FLOOR / 10))),
            np.float32(DB_FLOOR),
        )
        mfcc = clipwise_matmul(logmel, self.dct_t, starts)
        energy = 2 * power.sum(axis=1) - power[:, 0] - (power[:, -1] if p.n_fft % 2 == 0 else 0)
        rms = np.sqrt(np.maximum(energy, 0) / p.n_fft**2)
        total = magnitude.sum(axis=1)
        centroid = clipwise_matmul(magnitude, self.bin_hz, starts) / np.where(
            total > np.finfo(np.float32).tiny, total, 1
        )
        cumulative = np.cumsum(magnitude, axis=1)
        rolloff = self.bin_hz[np.argmax(cumulative >= p.rolloff_percent * cumulative[:, -1:], axis=1)]

        rms_db = 20 * np.log10(rms + 1e-10)
        active = rms_db > np.maximum.reduceat(rms_db, starts[:-1])[clip_of] - SILENCE_DB
        f0 = self._pitch(clips, active, starts)
        voiced = active & (f0 > p.fmin_hz * 1.05) & (f0 < p.fmax_hz * 0.95)

        per_frame = np.column_stack(
            [
                mfcc,
                segment_deltas(mfcc, starts, order=1),
                segment_deltas(mfcc, starts, order=2),
                rms,
                np.concatenate([zero_crossing_rate(f) for f in framed]),
                centroid,
                rolloff,
            ]
        )
        descriptors = np.concatenate(
            [
                segment_stats(per_frame, starts).reshape(len(clips), -1),
                segment_stats(f0[:, None], starts, voiced).reshape(len(clips), -1),
                (np.add.reduceat(voiced.astype(np.float64), starts[:-1]) / np.diff(starts))[:, None],
            ],
            axis=1,
        ).astype(np.float32)
        logmels = np.stack(
            [fixed_frames(logmel[b:e].T, active[b:e], frames=p.frames) for b, e in pairwise(starts)]
        )
        return descriptors, logmels


def audio_feature_table(
    rows: pa.Table,
    clips: Iterable[np.ndarray],
    params: AudioFeatureParams,
    *,
    progress: Callable[[int], None] | None = None,
) -> pa.Table:
    """The audio feature table (:attr:`AudioFeatureParams.schema`) of manifest ``rows`` from
    their decoded mono ``clips`` (same order), computed :data:`BATCH_CLIPS` at a time."""
    extractor = AudioFeatureExtractor(params)
    names = audio_descriptor_names(n_mfcc=params.n_mfcc) + params.extra_descriptors
    descriptors = np.zeros((rows.num_rows, len(names)), dtype=np.float32)
    logmels = np.zeros((rows.num_rows, params.n_mels * params.frames), dtype=np.float32)
    source = iter(clips)
    for first in range(0, rows.num_rows, BATCH_CLIPS):
        batch = list(islice(source, BATCH_CLIPS))
        own, logmel = extractor.batch(batch)
        if params.egemaps:
            own = np.hstack([own, egemaps(batch, sample_rate=params.sample_rate)])
        descriptors[first : first + len(batch)] = own
        logmels[first : first + len(batch)] = logmel.reshape(len(batch), -1)
        if progress is not None:
            progress(first + len(batch))
    columns = {
        c: rows.column(c)
        for c in ("corpus", "sample_id", "label", "label_id", "original_label", "split", "speaker")
    }
    columns.update({name: pa.array(descriptors[:, j]) for j, name in enumerate(names)})
    columns["logmel"] = pa.FixedSizeListArray.from_arrays(
        pa.array(logmels.ravel()), params.n_mels * params.frames
    )
    return pa.table(columns)


def shard_speakers(speakers: list[str], *, shard: int, shards: int) -> list[str]:
    """Speakers of ``shard``: the sorted distinct speakers dealt round-robin into ``shards``."""
    return sorted(set(speakers))[shard::shards]


def extract_audio_shard(
    *,
    manifest_path: str | Path,
    archive: str | Path,
    output_path: str | Path,
    shard: int,
    params: AudioFeatureParams,
    max_compression_ratio: float = 100.0,
) -> int:
    """Extract features for every manifest clip of one speaker shard; returns the row count."""
    manifest = pq.read_table(manifest_path)
    mine = shard_speakers(manifest.column("speaker").to_pylist(), shard=shard, shards=params.shards)
    rows = manifest.filter(pc.is_in(manifest.column("speaker"), pa.array(mine, pa.string()))).sort_by(
        "sample_id"
    )
    members = rows.column("member").to_pylist()
    started = time.perf_counter()

    def progress(done: int) -> None:
        log.info("shard %d: %d/%d clips (%.1f s)", shard, done, len(members), time.perf_counter() - started)

    with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
        table = audio_feature_table(
            rows,
            (decode_mono(arc.read(m), sample_rate=params.sample_rate) for m in members),
            params,
            progress=progress,
        )
    write_table(table, output_path, params.schema)
    log.info("shard %d: speakers %s -> %d rows", shard, ", ".join(mine) or "none", rows.num_rows)
    return rows.num_rows
