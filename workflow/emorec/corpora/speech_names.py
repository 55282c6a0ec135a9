"""Filename parsers of the speech corpora beside RAVDESS: TESS, SAVEE and CREMA-D.

Each turns an archive member name into the common manifest fields (``sample_id``,
``label``, ``original_label``, ``speaker``, ``sex``) or raises ``ValueError`` with the reason,
which the shared ingest loop records as the member's reject reason.

- **TESS**: ``<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<emotion>.wav``; folder names are
  irregular (``OAF_Fear``, ``OAF_Pleasant_surprise``, ``YAF_pleasant_surprised``), so the
  file's own suffix decides; ``ps`` (pleasant surprise) -> surprised. Two female speakers.
- **SAVEE**: flat ``ALL/DC_a01.wav`` or per-speaker ``DC/a01.wav``; codes a, d, f, h, n, sa,
  su; speakers DC, JE, JK, KL, all male.
- **CREMA-D**: ``AudioWAV/1001_DFA_ANG_XX.wav``: actor 1001-1091, sentence, emotion (ANG,
  DIS, FEA, HAP, NEU, SAD), intensity (LO, MD, HI, XX = unspecified). Sex comes from
  ``VideoDemographics.csv`` when the archive has it, else ``unknown``.
"""

import re
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath
from typing import Any

TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "sad": "sad",
}
TESS_SPEAKERS = {"OAF": "female", "YAF": "female"}  # older / younger adult female

SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")

CREMAD_EMOTIONS = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
CREMAD_INTENSITIES = ("LO", "MD", "HI", "XX")


def manifest_fields(
    corpus: str, speaker: str, clip: str, label: str, original: str, sex: str
) -> dict[str, Any]:
    """The common manifest fields; ids are ``<corpus>-<speaker>-<clip>``."""
    return {
        "sample_id": f"{corpus}-{speaker}-{clip}",
        "label": label,
        "original_label": original,
        "speaker": f"{corpus}-{speaker}",
        "sex": sex,
        "inferred": "",
    }


def _require_known(value: str, allowed: Collection[str], what: str) -> None:
    """``ValueError`` naming ``what`` and the allowed values when ``value`` is not one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (expected one of {', '.join(allowed)})")


def _tess_folder_speaker(folder: str) -> str | None:
    """The speaker a TESS folder names (``OAF_Pleasant_surprise`` -> ``OAF``), if any."""
    match = re.fullmatch(r"(OAF|YAF)_[A-Za-z_]+", folder, flags=re.I)
    return match.group(1).upper() if match else None


def parse_tess_name(name: str) -> dict[str, Any]:
    """Decode ``<speaker>_<word>_<emotion>.wav``; the folder must agree on the speaker.

    Where the file name itself is short of the pattern, the folder decides, and the row's
    ``inferred`` field says what was taken from it: the full release has
    ``OAF_neutral/OA_bite_neutral.wav``, whose speaker prefix is cut short.
    """
    path = PurePosixPath(name)
    folder = path.parent.name
    folder_speaker = _tess_folder_speaker(folder)
    match = re.fullmatch(r"([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)", path.stem)
    if not match:
        raise ValueError(f"{path.name!r} is not <OAF|YAF>_<word>_<emotion>.wav")
    prefix, word, emotion = match.group(1).upper(), match.group(2).lower(), match.group(3).lower()
    inferred = []
    if prefix in TESS_SPEAKERS:
        speaker = prefix
        if folder and not folder.upper().startswith(speaker + "_"):
            raise ValueError(f"speaker {speaker} does not match its folder {folder!r}")
    elif folder_speaker and folder_speaker.startswith(prefix):
        speaker = folder_speaker
        inferred.append(f"speaker {speaker} from folder {folder!r} (file prefix {match.group(1)!r})")
    else:
        raise ValueError(
            f"{path.name!r} is not <OAF|YAF>_<word>_<emotion>.wav and its folder {folder!r} names no speaker it abbreviates"
        )
    _require_known(emotion, TESS_EMOTIONS, "TESS emotion")
    row = manifest_fields(
        "tess", speaker, f"{word}-{emotion}", TESS_EMOTIONS[emotion], emotion, TESS_SPEAKERS[speaker]
    )
    row["inferred"] = "; ".join(inferred)
    return row


def parse_savee_name(name: str) -> dict[str, Any]:
    """Decode ``ALL/DC_a01.wav`` (flat release) or ``DC/a01.wav`` (per-speaker release)."""
    path = PurePosixPath(name)
    flat = re.fullmatch(r"([A-Z]{2})_([a-z]{1,2})(\d{2})", path.stem)
    nested = re.fullmatch(r"([a-z]{1,2})(\d{2})", path.stem)
    if flat:
        speaker, code, number = flat.groups()
    elif nested and path.parent.name in SAVEE_SPEAKERS:
        speaker, (code, number) = path.parent.name, nested.groups()
    else:
        raise ValueError(f"{name!r} is neither <speaker>_<code><nn>.wav nor <speaker>/<code><nn>.wav")
    _require_known(speaker, SAVEE_SPEAKERS, "SAVEE speaker")
    _require_known(code, SAVEE_EMOTIONS, "SAVEE emotion code")
    return manifest_fields("savee", speaker, f"{code}{number}", SAVEE_EMOTIONS[code], code, "male")


def parse_cremad_name(name: str, *, sexes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Decode ``<actor>_<sentence>_<emotion>_<intensity>.wav``; ``sexes`` maps actor ids
    to ``male`` / ``female`` (from ``VideoDemographics.csv``)."""
    path = PurePosixPath(name)
    match = re.fullmatch(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})", path.stem)
    if not match:
        raise ValueError(f"{path.name!r} is not <actor>_<sentence>_<emotion>_<intensity>.wav")
    actor, sentence, emotion, intensity = match.groups()
    if not 1001 <= int(actor) <= 1091:
        raise ValueError(f"actor {actor} is outside 1001-1091")
    _require_known(emotion, CREMAD_EMOTIONS, "CREMA-D emotion")
    _require_known(intensity, CREMAD_INTENSITIES, "CREMA-D intensity")
    return manifest_fields(
        "cremad",
        actor,
        f"{sentence}_{emotion}_{intensity}",
        CREMAD_EMOTIONS[emotion],
        emotion,
        (sexes or {}).get(actor, "unknown"),
    )


def cremad_sexes(demographics_csv: str) -> dict[str, str]:
    """Actor id -> ``male`` / ``female`` from the text of ``VideoDemographics.csv``."""
    import csv
    import io

    sexes = {}
    for row in csv.DictReader(io.StringIO(demographics_csv)):
        actor, sex = row.get("ActorID", "").strip(), row.get("Sex", "").strip().lower()
        if actor and sex in ("male", "female"):
            sexes[actor] = sex
    return sexes
