"""Audio features: aggregated frame descriptors and a fixed-size log-mel array per clip.

One STFT per clip feeds the mel spectrogram, MFCCs (with deltas), spectral centroid and
roll-off; RMS comes from the spectrum; zero-crossing rate and YIN pitch from the waveform
(:mod:`emorec.features.pitch`, no JIT: safe in parallel jobs). Clips are decoded
straight from the archive at the configured rate. Work is split into shards by speaker so
Snakemake runs shards in parallel; :func:`merge_audio_shards` joins them.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.fft

from emorec.archives import open_archive
from emorec.audio_io import decode_mono
from emorec.features.pitch import yin, zero_crossing_rate
from emorec.jit import import_librosa
from emorec.tables import STATS, audio_descriptor_names, audio_features_schema, write_table

log = logging.getLogger(__name__)
librosa = import_librosa()

#: Power floor of the log-mel arrays (dB relative to full scale); padding uses this value.
DB_FLOOR = -100.0
#: Frames quieter than this (dB below the clip's loudest frame) count as silence.
SILENCE_DB = 30.0


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

    @property
    def schema(self) -> pa.Schema:
        return audio_features_schema(n_mfcc=self.n_mfcc, n_mels=self.n_mels, frames=self.frames)


def _stats(x: np.ndarray) -> np.ndarray:
    """mean, std, min, max over the last axis.

    Returns
    -------
    np.ndarray [shape=(..., 4)]
    """
    if x.shape[-1] == 0:
        return np.zeros((*x.shape[:-1], len(STATS)), dtype=np.float64)
    return np.stack([x.mean(-1), x.std(-1), x.min(-1), x.max(-1)], axis=-1)


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
        self.mel_basis = librosa.filters.mel(sr=params.sample_rate, n_fft=params.n_fft, n_mels=params.n_mels)

    def __call__(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features of one mono clip at ``params.sample_rate``.

        Parameters
        ----------
        y : np.ndarray [shape=(n,), dtype=float32]

        Returns
        -------
        descriptors : np.ndarray [shape=(len(audio_descriptor_names),), dtype=float32]
        logmel : np.ndarray [shape=(n_mels, frames), dtype=float32]
        """
        p = self.p
        if y.size < p.n_fft:
            y = np.pad(y, (0, p.n_fft - y.size))
        power = np.abs(librosa.stft(y, n_fft=p.n_fft, hop_length=p.hop_length)) ** 2
        magnitude = np.sqrt(power)
        logmel_full = librosa.power_to_db(self.mel_basis @ power, ref=1.0, amin=10 ** (DB_FLOOR / 10), top_db=None)
        mfcc = scipy.fft.dct(logmel_full, axis=0, type=2, norm="ortho")[: p.n_mfcc]
        delta = librosa.feature.delta(mfcc, mode="nearest")
        delta2 = librosa.feature.delta(mfcc, order=2, mode="nearest")
        rms = librosa.feature.rms(S=magnitude, frame_length=p.n_fft)[0]
        zcr = zero_crossing_rate(y, frame_length=p.n_fft, hop_length=p.hop_length)
        centroid = librosa.feature.spectral_centroid(S=magnitude, sr=p.sample_rate)[0]
        rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=p.sample_rate, roll_percent=p.rolloff_percent)[0]
        frame_length = max(p.n_fft, int(np.ceil(2.2 * p.sample_rate / p.fmin_hz)))
        f0 = yin(y, sr=p.sample_rate, fmin=p.fmin_hz, fmax=p.fmax_hz, frame_length=frame_length, hop_length=p.hop_length)
        rms_db = 20 * np.log10(rms + 1e-10)
        active = rms_db > rms_db.max() - SILENCE_DB
        n = min(f0.size, active.size)
        voiced = active[:n] & (f0[:n] > p.fmin_hz * 1.05) & (f0[:n] < p.fmax_hz * 0.95)
        descriptors = np.concatenate(
            [
                _stats(mfcc).ravel(),
                _stats(delta).ravel(),
                _stats(delta2).ravel(),
                _stats(rms),
                _stats(zcr),
                _stats(centroid),
                _stats(rolloff),
                _stats(f0[:n][voiced]),
                [voiced.mean() if n else 0.0],
            ]
        ).astype(np.float32)
        return descriptors, fixed_frames(logmel_full, active, frames=p.frames)


def shard_speakers(speakers: list[str], *, shard: int, shards: int) -> list[str]:
    """Speakers of ``shard``: the sorted distinct speakers dealt round-robin into ``shards``."""
    return sorted(set(speakers))[shard::shards]


def extract_audio_shard(
    *, manifest_path: str | Path, archive: str | Path, output_path: str | Path, shard: int, params: AudioFeatureParams, max_compression_ratio: float = 100.0
) -> int:
    """Extract features for every manifest clip of one speaker shard; returns the row count."""
    manifest = pq.read_table(manifest_path).to_pandas()
    mine = shard_speakers(manifest["speaker"].tolist(), shard=shard, shards=params.shards)
    rows = manifest[manifest["speaker"].isin(mine)].sort_values("sample_id")
    extractor = AudioFeatureExtractor(params)
    names = audio_descriptor_names(n_mfcc=params.n_mfcc)
    descriptors = np.zeros((len(rows), len(names)), dtype=np.float32)
    logmels = np.zeros((len(rows), params.n_mels * params.frames), dtype=np.float32)
    started = time.perf_counter()
    with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
        for i, member in enumerate(rows["member"]):
            y = decode_mono(arc.read(member), sample_rate=params.sample_rate)
            d, m = extractor(y)
            descriptors[i], logmels[i] = d, m.ravel()
            if (i + 1) % 50 == 0 or i + 1 == len(rows):
                log.info("shard %d: %d/%d clips (%.1f s)", shard, i + 1, len(rows), time.perf_counter() - started)
    columns = {c: pa.array(rows[c].to_numpy()) for c in ("corpus", "sample_id", "label", "label_id", "original_label", "split", "speaker")}
    columns.update({name: pa.array(descriptors[:, j]) for j, name in enumerate(names)})
    columns["logmel"] = pa.FixedSizeListArray.from_arrays(pa.array(logmels.ravel()), params.n_mels * params.frames)
    write_table(pa.table(columns), output_path, params.schema)
    log.info("shard %d: speakers %s -> %d rows", shard, ", ".join(mine) or "none", len(rows))
    return len(rows)


def merge_audio_shards(*, shard_paths: list[str | Path], output_path: str | Path, params: AudioFeatureParams) -> None:
    """Concatenate feature tables (speaker shards, or whole corpora) into one, sorted by ``sample_id``."""
    tables = [pq.read_table(path) for path in shard_paths]
    merged = pa.concat_tables(tables).sort_by("sample_id")
    write_table(merged, output_path, params.schema)
    log.info("merged %d tables: %d rows", len(tables), merged.num_rows)
