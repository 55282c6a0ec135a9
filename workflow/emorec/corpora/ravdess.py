"""RAVDESS: the ``MM-VV-EE-II-SS-RR-AA`` filename code, and ingest of the speech archives.

Fields: modality (01 audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech,
02 song), emotion (01..08, RAVDESS order = unified order), intensity (01 normal, 02 strong;
neutral has no strong), statement (01, 02), repetition (01, 02), actor (01..24; odd male,
even female). Song has no disgust (07) or surprised (08).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from emorec.corpora.audio_ingest import ingest_audio_archive, write_audio_ingest
from emorec.labels import RAVDESS_EMOTIONS
from emorec.splits import SpeakerSplit
from emorec.tables import RAVDESS_MANIFEST

_RANGES = {
    "modality": (1, 3),
    "vocal_channel": (1, 2),
    "emotion": (1, 8),
    "intensity": (1, 2),
    "statement": (1, 2),
    "repetition": (1, 2),
    "actor": (1, 24),
}


@dataclass(frozen=True)
class RavdessCode:
    """The seven decoded fields of a RAVDESS filename."""

    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def sex(self) -> str:
        """Odd actors are male, even actors female."""
        return "male" if self.actor % 2 else "female"

    @property
    def stem(self) -> str:
        """The canonical filename stem, e.g. ``03-01-05-02-01-01-12``."""
        return "-".join(f"{v:02d}" for v in asdict(self).values())


def parse_ravdess_name(name: str) -> RavdessCode:
    """Decode a RAVDESS filename (any folder, any extension) into its seven codes.

    Raises
    ------
    ValueError
        Naming the field and value that is out of range or inconsistent.
    """
    stem = PurePosixPath(name.replace("\\", "/")).stem
    parts = stem.split("-")
    if len(parts) != 7 or not all(len(p) == 2 and p.isdigit() for p in parts):
        raise ValueError(f"{stem!r} is not seven two-digit fields MM-VV-EE-II-SS-RR-AA")
    values = dict(zip(_RANGES, (int(p) for p in parts)))
    for field_name, (low, high) in _RANGES.items():
        if not low <= values[field_name] <= high:
            raise ValueError(f"{field_name} code {values[field_name]:02d} not in {low:02d}..{high:02d}")
    code = RavdessCode(**values)
    if code.emotion == 1 and code.intensity == 2:
        raise ValueError("neutral (emotion 01) has no strong intensity (02)")
    if code.vocal_channel == 2 and code.emotion in (7, 8):
        raise ValueError(
            f"song (vocal channel 02) has no {RAVDESS_EMOTIONS[code.emotion]} (emotion {code.emotion:02d})"
        )
    return code


def ravdess_row(name: str) -> dict[str, Any]:
    """Manifest columns decoded from one archive member name; ``ValueError`` if unusable."""
    code = parse_ravdess_name(name)
    folder = PurePosixPath(name).parent.name
    if folder.startswith("Actor_") and folder != f"Actor_{code.actor:02d}":
        raise ValueError(f"actor code {code.actor:02d} does not match its folder {folder}")
    label = RAVDESS_EMOTIONS[code.emotion]
    return {
        "sample_id": code.stem,
        "speaker": f"Actor_{code.actor:02d}",
        "sex": code.sex,
        "label": label,
        "original_label": label,
        **asdict(code),
    }


MODALITIES = {1: "full audio-video", 2: "video-only", 3: "audio-only"}


def ravdess_video_reason(name: str) -> str | None:
    """Why a RAVDESS ``.mp4`` is not in the audio manifest, naming its modality; the summary
    counts these under ``video (...)`` so videos are never dropped silently. Video archives
    go to :mod:`emorec.corpora.ravdess_video` (``corpora.ravdess_video.archives``)."""
    if not name.lower().endswith(".mp4"):
        return None
    try:
        code = parse_ravdess_name(name)
    except ValueError as exc:
        return f"unparseable name: {exc}"
    return f"video (modality {code.modality:02d}, {MODALITIES[code.modality]}): list the archive under corpora.ravdess_video.archives"


def ingest_ravdess(
    *,
    archive: str | Path,
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    val_actors: Sequence[int],
    test_actors: Sequence[int],
    max_reject_fraction: float,
    max_compression_ratio: float,
    threads: int = 1,
) -> None:
    """Ingest a RAVDESS archive (zip or folder) into manifest, rejects and summary files."""
    split = SpeakerSplit(
        val=[f"Actor_{a:02d}" for a in val_actors], test=[f"Actor_{a:02d}" for a in test_actors]
    )
    result = ingest_audio_archive(
        archive,
        corpus="ravdess",
        parse_member=ravdess_row,
        describe_other=ravdess_video_reason,
        split_of=lambda row: split.of(row["speaker"]),
        max_compression_ratio=max_compression_ratio,
        threads=threads,
    )
    write_audio_ingest(
        result,
        schema=RAVDESS_MANIFEST,
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )
