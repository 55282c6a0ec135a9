"""A synthetic RAVDESS speech release: ``Actor_XX/03-01-EE-II-SS-RR-AA.wav`` in a zip.

Each clip is a source-filter voice: a pulse train whose pitch contour follows syllables,
shaped by formant resonators, with consonant noise bursts and background noise. Emotion
moves the cues speech research associates with it (anger: higher, wider, louder, faster,
abrupt and brighter; sadness: lower, narrower, quieter, slower and darker; fear: higher,
faster, irregular voicing and tremor; ...), strong intensity moves them further, and every
actor has an own voice (base pitch, vocal-tract length, timbre, expressiveness). Per-clip
random variation makes neighbouring emotions overlap, as in real speech.
"""

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from emorec.corpora.ravdess import RavdessCode
from emorec.labels import LABELS

log = logging.getLogger(__name__)

#: Fixed timestamp so the zip is byte-identical across runs (stable DVC hashes).
ZIP_DATE = (2018, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class EmotionCues:
    """Deviations from a neutral voice (applied in full at normal intensity)."""

    pitch_st: float  # mean pitch shift in semitones
    range_x: float  # pitch excursion multiplier
    loud_db: float  # level change
    rate_x: float  # syllable-rate multiplier
    jitter: float  # irregularity of the pitch period (relative)
    tilt: float  # brightness: >0 brighter (pressed voice), <0 darker
    attack: float  # abruptness of syllable onsets, 0..1
    breath: float  # aspiration noise in the source
    tremor: float  # 5-7 Hz pitch tremor depth (semitones)
    final_rise: float  # pitch rise (semitones) over the last syllables


CUES: dict[str, EmotionCues] = {
    "neutral": EmotionCues(0.0, 1.0, 0.0, 1.00, 0.004, 0.0, 0.45, 0.10, 0.0, 0.0),
    "calm": EmotionCues(-1.5, 0.6, -4.0, 0.85, 0.003, -0.2, 0.30, 0.20, 0.0, -0.5),
    "happy": EmotionCues(3.0, 1.7, 3.0, 1.15, 0.006, 0.20, 0.60, 0.10, 0.0, -0.5),
    "sad": EmotionCues(-2.5, 0.45, -6.0, 0.72, 0.010, -0.35, 0.20, 0.30, 0.15, -1.5),
    "angry": EmotionCues(3.0, 1.6, 8.0, 1.25, 0.012, 0.55, 1.00, 0.05, 0.0, -2.5),
    "fearful": EmotionCues(5.0, 1.2, 0.5, 1.30, 0.030, 0.05, 0.55, 0.25, 0.45, 0.5),
    "disgust": EmotionCues(-1.5, 1.1, 1.0, 0.78, 0.014, 0.20, 0.50, 0.20, 0.0, -2.0),
    "surprised": EmotionCues(5.0, 2.2, 3.0, 0.95, 0.006, 0.05, 0.65, 0.12, 0.0, 6.0),
}

#: Vowel formants (F1, F2, F3) in Hz for an adult male vocal tract.
VOWELS = np.array(
    [
        [730, 1090, 2440],
        [270, 2290, 3010],
        [300, 870, 2240],
        [530, 1840, 2480],
        [570, 840, 2410],
        [660, 1720, 2410],
        [490, 1350, 1690],
    ],
    dtype=float,
)

#: Two statements as vowel sequences ("Kids are talking by the door", "Dogs are sitting by the door").
STATEMENTS = {1: [1, 0, 4, 1, 5, 3, 2, 4], 2: [4, 0, 1, 1, 5, 3, 2]}


@dataclass(frozen=True)
class Voice:
    """One actor's voice."""

    f0: float  # base pitch, Hz
    tract: float  # formant scale (shorter vocal tract -> higher formants)
    tilt: float  # own brightness
    rate: float  # own syllables per second
    expressiveness: float  # how strongly this actor acts emotions


def actor_voice(actor: int, rng: np.random.Generator) -> Voice:
    """A random but plausible voice for ``actor`` (odd male, even female)."""
    male = actor % 2 == 1
    return Voice(
        f0=float(rng.normal(115, 14) if male else rng.normal(205, 22)),
        tract=float(rng.normal(1.0, 0.05) if male else rng.normal(1.16, 0.05)),
        tilt=float(rng.normal(0.0, 0.15)),
        rate=float(rng.normal(3.6, 0.35)),
        expressiveness=float(rng.uniform(0.65, 1.25)),
    )


def _resonator(signal: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    """Second-order resonant filter (one formant), unity gain at DC."""
    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * freq / sr
    a = [1.0, -2 * r * np.cos(theta), r * r]
    return lfilter([sum(a)], a, signal)


def synthesize_clip(
    code: RavdessCode, voice: Voice, *, sample_rate: int, noise_snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """One clip for ``code`` spoken by ``voice``.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Mono audio in [-1, 1], about 2 to 3 s long.
    """
    sr = sample_rate
    cues = CUES[LABELS[code.emotion - 1]]
    scale = voice.expressiveness * (1.6 if code.intensity == 2 else 1.0) * rng.uniform(0.75, 1.25)

    def cue(value: float, neutral: float, spread: float) -> float:
        return neutral + (value - neutral) * scale + rng.normal(0, spread)

    pitch_st = cue(cues.pitch_st, 0.0, 1.0)
    range_x = max(0.2, cue(cues.range_x, 1.0, 0.2))
    loud_db = cue(cues.loud_db, 0.0, 2.0)
    rate = voice.rate * max(0.5, cue(cues.rate_x, 1.0, 0.08))
    jitter = max(0.0, cue(cues.jitter, 0.004, 0.003))
    tilt = cue(cues.tilt, 0.0, 0.1) + voice.tilt
    attack = float(np.clip(cue(cues.attack, 0.45, 0.12), 0.05, 1.0))
    breath = max(0.0, cue(cues.breath, 0.1, 0.05))
    tremor = max(0.0, cue(cues.tremor, 0.0, 0.05))
    final_rise = cue(cues.final_rise, 0.0, 0.8)

    vowels = STATEMENTS[code.statement]
    n_syl = len(vowels)
    syl_len = rng.uniform(0.7, 1.3, n_syl) / rate
    speech = float(syl_len.sum())
    lead, tail = rng.uniform(0.15, 0.35), rng.uniform(0.2, 0.4)
    n = int((lead + speech + tail) * sr)
    t = np.arange(n) / sr

    # Pitch contour: declination, per-syllable accents, final rise/fall, tremor, jitter.
    bounds = lead + np.concatenate([[0.0], np.cumsum(syl_len)])
    syl_of_t = np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, n_syl - 1)
    accents = rng.normal(0, 1.6, n_syl) * range_x
    progress = np.clip((t - lead) / speech, 0, 1)
    semitones = (
        pitch_st
        + accents[syl_of_t]
        - 2.0 * range_x * progress
        + final_rise * np.clip(progress * 4 - 3, 0, 1) ** 2
    )
    semitones = np.convolve(semitones, np.ones(int(0.04 * sr)) / int(0.04 * sr), mode="same")
    semitones += tremor * np.sin(2 * np.pi * rng.uniform(5, 7) * t)
    drift = np.cumsum(rng.normal(0, 1, n)) / np.sqrt(sr)
    f0 = (
        voice.f0 * 2 ** (semitones / 12) * (1 + jitter * 20 * (drift - drift.mean()) / max(drift.std(), 1e-9))
    )
    f0 *= 1 + jitter * rng.normal(0, 1, n)
    phase = np.cumsum(f0) / sr
    source = 2 * (phase % 1.0) - 1.0  # sawtooth pulse train
    source += breath * rng.normal(0, 1, n)
    # Spectral tilt: bright voices keep their highs, dark voices lose them.
    pole = float(np.clip(0.55 - 0.4 * tilt, 0.05, 0.95))
    source = lfilter([1 - pole], [1, -pole], source)

    # Syllable envelopes (attack controls onset abruptness) and per-syllable formants.
    voiced = np.zeros(n)
    for i, vowel in enumerate(vowels):
        start, stop = int(bounds[i] * sr), int(bounds[i + 1] * sr)
        seg = np.arange(stop - start) / max(stop - start, 1)
        rise = 0.05 + 0.4 * (1 - attack)
        env = (
            np.minimum(np.clip(seg / rise, 0, 1) ** (1 + 2 * attack), np.clip((1 - seg) / 0.35, 0, 1)) ** 1.2
        )
        formants = VOWELS[vowel] * voice.tract * rng.uniform(0.95, 1.05, 3)
        part = source[start:stop]
        for freq, bw in zip(formants, (80, 100, 140)):
            part = _resonator(part, freq, bw, sr)
        voiced[start:stop] = part * env * rng.uniform(0.7, 1.0)
        # Consonant burst before the vowel: band-passed noise, stronger when abrupt.
        burst = int(0.04 * sr)
        if start - burst > 0:
            noise = rng.normal(0, 0.15 + 0.5 * attack, burst) * np.hanning(burst)
            voiced[start - burst : start] += _resonator(noise, 3500 * voice.tract, 1500, sr)

    voiced /= np.max(np.abs(voiced)) + 1e-9
    voiced *= 10 ** ((loud_db - 14) / 20)
    signal_power = np.mean(voiced[int(lead * sr) : int((lead + speech) * sr)] ** 2)
    snr = noise_snr_db + rng.normal(0, 3)
    noise = np.cumsum(rng.normal(0, 1, n))  # brownish hum plus white hiss
    noise = lfilter([1, -1], [1, -0.98], noise) + rng.normal(0, 1, n)
    noise *= np.sqrt(signal_power / 10 ** (snr / 10) / np.mean(noise**2))
    return np.clip(voiced + noise, -1, 1).astype(np.float32)


def ravdess_grid(actor: int) -> list[RavdessCode]:
    """The 60 audio-only speech codes one RAVDESS actor recorded."""
    return [
        RavdessCode(3, 1, emotion, intensity, statement, repetition, actor)
        for emotion in range(1, 9)
        for intensity in ((1,) if emotion == 1 else (1, 2))
        for statement in (1, 2)
        for repetition in (1, 2)
    ]


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of a mono float signal."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_demo_ravdess(
    *, path: str | Path, actors: int, sample_rate: int, noise_snr_db: float, seed: int
) -> None:
    """Write a RAVDESS-layout speech zip of ``actors`` actors x 60 clips to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for actor in range(1, actors + 1):
            voice = actor_voice(actor, np.random.default_rng([seed, actor]))
            folder = f"Actor_{actor:02d}/"
            archive.writestr(zipfile.ZipInfo(folder, ZIP_DATE), b"")
            for code in ravdess_grid(actor):
                rng = np.random.default_rng([seed, *(v for v in vars(code).values())])
                audio = synthesize_clip(
                    code, voice, sample_rate=sample_rate, noise_snr_db=noise_snr_db, rng=rng
                )
                info = zipfile.ZipInfo(f"{folder}{code.stem}.wav", ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, wav_bytes(audio, sample_rate))
            log.info("demo RAVDESS: actor %d/%d written (voice f0 %.0f Hz)", actor, actors, voice.f0)
