"""FER2013 in the image-folder layout: ``train/<emotion>/*.jpg`` and ``test/<emotion>/*.jpg``.

Split: where file names carry the original ``Usage`` (``Training_*``, ``PublicTest_*``,
``PrivateTest_*``), it decides as for the CSV (Training -> train, PublicTest -> val,
PrivateTest -> test). Otherwise ``test/`` -> test and a validation split is carved from
``train/``: a seeded share of every class (stratified), so its class shares match train's.
Every member is read in place; a member that is not a 48x48 image of a known emotion folder
is rejected with the reason.
"""

import io
import logging
import re
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from emorec.archives import file_sha256, open_archive
from emorec.corpora.audio_ingest import metadata_reason
from emorec.corpora.fer2013 import USAGE_SPLITS, ingest_fer2013, is_fer_csv
from emorec.ingest import write_ingest
from emorec.labels import FER2013_EMOTIONS
from emorec.tables import FACE_MANIFEST, FACE_PIXELS, FACE_SIDE, face_manifest

log = logging.getLogger(__name__)

#: Emotion folder name -> unified label (FER2013's own names).
FOLDER_LABELS = {original: unified for original, unified in FER2013_EMOTIONS.values()}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
IMAGE_FORMATS = ("JPEG", "PNG")  # only these decoders are probed (faster than all of Pillow's)
FOLDER_SPLITS = {"train": "train", "test": "test"}
_USAGE = re.compile(r"^(Training|PublicTest|PrivateTest)_")


def parse_image_member(name: str) -> tuple[str, str, str | None]:
    """``(folder split, original emotion, usage split or None)`` of ``.../<train|test>/<emotion>/<file>``.

    Raises ``ValueError`` with the reason for any other layout.
    """
    path = PurePosixPath(name)
    if len(path.parts) < 3:
        raise ValueError("not inside <train|test>/<emotion>/")
    folder, emotion = path.parts[-3].lower(), path.parts[-2].lower()
    if folder not in FOLDER_SPLITS:
        raise ValueError(f"folder {path.parts[-3]!r} is neither train nor test")
    if emotion not in FOLDER_LABELS:
        raise ValueError(f"emotion folder {path.parts[-2]!r} not one of {', '.join(FOLDER_LABELS)}")
    usage = _USAGE.match(path.name)
    return FOLDER_SPLITS[folder], emotion, USAGE_SPLITS[usage.group(1)] if usage else None


def decode_face(data: bytes) -> np.ndarray:
    """A 48x48 grayscale image as uint8 [shape=(2304,)]; ``ValueError`` if it is not one."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            if image.size != (FACE_SIDE, FACE_SIDE):
                raise ValueError(
                    f"image is {image.size[0]}x{image.size[1]}, expected {FACE_SIDE}x{FACE_SIDE}"
                )
            gray = image if image.mode == "L" else image.convert("L")
            return np.asarray(gray, dtype=np.uint8).reshape(FACE_PIXELS)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a decodable image ({exc})") from exc


def carve_validation(labels: np.ndarray, candidates: np.ndarray, *, fraction: float, seed: int) -> np.ndarray:
    """Indices (from ``candidates``) of a seeded, per-class ``fraction`` of samples."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(set(labels[candidates].tolist())):
        members = candidates[labels[candidates] == label]
        chosen.append(rng.permutation(members)[: int(round(fraction * members.size))])
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)


def ingest_fer2013_images(
    *,
    archive: str | Path,
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    val_fraction: float,
    split_seed: int,
    max_reject_fraction: float,
    max_compression_ratio: float,
) -> None:
    """Ingest a FER2013 image-folder archive (zip or folder) into manifest, rejects and summary."""
    ids, emotions, splits, usage_known, pixels = [], [], [], [], []
    seen: dict[str, str] = {}
    with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
        names, rejects = arc.members()
        for name in names:
            reason = metadata_reason(name)
            if reason is None and not name.lower().endswith(IMAGE_SUFFIXES):
                reason = f"not an image (suffix {PurePosixPath(name).suffix or 'none'!r})"
            parts = PurePosixPath(name).with_suffix("").parts
            sample_id = (
                "fer2013-" + "-".join(p.lower() for p in parts[-3:-1]) + "-" + parts[-1]
            )  # some ids sit in two emotion folders
            if reason is None and sample_id in seen:
                reason = f"duplicate sample id {sample_id} (first seen as {seen[sample_id]})"
            try:
                if reason is None:
                    split, emotion, usage = parse_image_member(name)
                    pixels.append(decode_face(arc.read(name)))
            except ValueError as exc:
                reason = str(exc)
            if reason is not None:
                rejects.append((name, reason))
                continue
            seen[sample_id] = name
            ids.append(sample_id)
            emotions.append(emotion)
            splits.append(usage or split)
            usage_known.append(usage is not None)
    split_of = np.array(splits, dtype=object)
    labels = np.array([FOLDER_LABELS[e] for e in emotions], dtype=object)
    carve = np.flatnonzero((split_of == "train") & ~np.array(usage_known, dtype=bool))
    if carve.size:
        split_of[carve_validation(labels, carve, fraction=val_fraction, seed=split_seed)] = "val"
        log.info(
            "no Usage in %d train names: carved a %.0f%% stratified validation split (seed %d)",
            carve.size,
            100 * val_fraction,
            split_seed,
        )
    manifest = face_manifest(
        "fer2013",
        sample_ids=ids,
        labels=labels.tolist(),
        original_labels=emotions,
        splits=split_of.tolist(),
        images=np.stack(pixels) if pixels else np.zeros((0, FACE_PIXELS), np.uint8),
    ).sort_by("sample_id")
    write_ingest(
        manifest,
        schema=FACE_MANIFEST,
        corpus="fer2013",
        archive=str(archive),
        sha256=file_sha256(archive),
        rejects=sorted(rejects),
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )


def ingest_fer2013_archive(
    *,
    archive: str | Path,
    val_fraction: float,
    split_seed: int,
    max_compression_ratio: float,
    **paths_and_limits,
) -> None:
    """Ingest FER2013 in whichever form ``archive`` has: the CSV (``.csv``, ``.csv.gz``,
    ``.tar.gz``) or the image folders (a zip or a directory)."""
    if is_fer_csv(archive):
        ingest_fer2013(archive=archive, **paths_and_limits)
    else:
        ingest_fer2013_images(
            archive=archive,
            val_fraction=val_fraction,
            split_seed=split_seed,
            max_compression_ratio=max_compression_ratio,
            **paths_and_limits,
        )
