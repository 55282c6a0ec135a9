"""A face-image set declared in the params alone (``corpora.<name>.kind: image_folders``):
images in folders named after their emotion, as RAF-DB, CK+ or JAFFE exports are often
arranged (``train/<emotion>/*.jpg``, ``<emotion>/*.png``, ...).

- **Labels**: the folder an image sits in, through ``labels`` (folder name -> unified label,
  case-insensitive; ``null`` leaves a folder out on purpose). An image in a folder missing
  from the map is a reject naming it.
- **Splits**: ``splits: {train: train, test: test}`` names the folders (anywhere above the
  image) that decide its split; ``splits: test`` makes every image a test image (a pure
  cross-corpus test set); without ``splits``, a stratified ``test_fraction`` and
  ``val_fraction`` (seed ``split_seed``). Train images with no ``val`` folder beside them give
  a stratified ``val_fraction`` to validation, as FER2013's image folders do.
- **Faces**: ``find_faces: true`` finds the largest face in each image and crops it as ``emorec
  predict`` and the video faces do (:class:`emorec.features.video_faces.FaceDetector`); an image
  without one is a reject. ``find_faces: false`` (the default) takes each image as a face crop,
  resized to 48x48.

Every member ends up in the manifest or the rejects, with its reason; images are decoded only
after their header says they are at most :data:`MAX_PIXELS`.
"""

import io
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from emorec.archives import file_sha256, open_archive
from emorec.corpora.audio_ingest import metadata_reason
from emorec.corpora.fer2013_images import carve_validation
from emorec.features.video_faces import FaceDetector, VideoFaceParams
from emorec.ingest import NOT_USED, write_ingest
from emorec.tables import FACE_MANIFEST, FACE_PIXELS, FACE_SIDE, face_manifest

KIND = "image_folders"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pgm", ".webp")
#: The largest image decoded (a header declaring more is a reject, not a decompression bomb).
MAX_PIXELS = 40_000_000
DEFAULTS = {"val_fraction": 0.1, "test_fraction": 0.2, "split_seed": 13, "find_faces": False}


def is_face_set(spec: Any) -> bool:
    """Whether a corpus' params declare a face-image set."""
    return isinstance(spec, Mapping) and spec.get("kind") == KIND


def gray_image(data: bytes) -> np.ndarray:
    """The image in ``data`` as grayscale uint8 [shape=(h, w)]; ``ValueError`` with the reason."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"a {image.width}x{image.height} image, over {MAX_PIXELS:,} pixels")
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a decodable image ({exc})") from exc


def face_pixels(gray: np.ndarray, detector: FaceDetector | None) -> np.ndarray:
    """The 48x48 face of an image [shape=(2304,)]: the largest face ``detector`` finds, or with
    no detector the whole image resized."""
    if detector is not None:
        face = detector(gray)
        if face is None:
            raise ValueError(f"no face found in the {gray.shape[1]}x{gray.shape[0]} image")
        return face.pixels.reshape(FACE_PIXELS)
    if gray.shape != (FACE_SIDE, FACE_SIDE):
        import cv2

        gray = cv2.resize(gray, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    return gray.reshape(FACE_PIXELS)


def member_fields(name: str, spec: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """``(original label, unified label, split or None)`` of an image member, from its folders.

    Raises :class:`ValueError` with the reason (``not used (...)`` for a folder mapped to null).
    """
    parts = PurePosixPath(name).parts
    if len(parts) < 2:
        raise ValueError("not inside an emotion folder")
    labels = {str(k).lower(): v for k, v in spec["labels"].items()}
    folder = parts[-2]
    if folder.lower() not in labels:
        raise ValueError(f"folder {folder!r} is not in labels ({', '.join(map(str, spec['labels']))})")
    if labels[folder.lower()] is None:
        raise ValueError(f"{NOT_USED} (folder {folder!r} is mapped to null)")
    splits = spec.get("splits")
    if splits is None:
        return folder, labels[folder.lower()], None
    if splits == "test":
        return folder, labels[folder.lower()], "test"
    by_folder = {str(k).lower(): v for k, v in splits.items()}
    for ancestor in parts[:-2]:
        if ancestor.lower() in by_folder:
            return folder, labels[folder.lower()], by_folder[ancestor.lower()]
    raise ValueError(f"no split folder above it (one of {', '.join(map(str, splits))})")


def assign_shares(labels: np.ndarray, splits: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Fill the splits the folders left open: without ``splits`` a stratified ``test_fraction``
    then ``val_fraction`` of the rest; with split folders but no validation image, a
    stratified ``val_fraction`` of train."""
    opts = {**DEFAULTS, **spec}
    splits = splits.copy()
    open_ = np.flatnonzero(splits == None)  # noqa: E711  (object array: elementwise)
    if open_.size:
        splits[open_] = "train"
        test = carve_validation(labels, open_, fraction=opts["test_fraction"], seed=opts["split_seed"])
        splits[test] = "test"
        rest = np.setdiff1d(open_, test)
        splits[carve_validation(labels, rest, fraction=opts["val_fraction"], seed=opts["split_seed"] + 1)] = (
            "val"
        )
    elif "val" not in set(splits.tolist()):
        train = np.flatnonzero(splits == "train")
        splits[carve_validation(labels, train, fraction=opts["val_fraction"], seed=opts["split_seed"])] = (
            "val"
        )
    return splits


def ingest_image_folders(
    *,
    corpus: str,
    spec: Mapping[str, Any],
    manifest_path: str | Path,
    rejects_path: str | Path,
    summary_path: str | Path,
    max_reject_fraction: float,
    max_compression_ratio: float,
    video: Mapping[str, Any] | None = None,
) -> None:
    """Ingest the face-image set ``corpus`` (its params ``spec``) into a face manifest, rejects
    and summary, as FER2013's are. ``video`` is params' ``features.video`` (the detector's
    settings) for ``find_faces``."""
    archive = spec["archive"]
    detector = None
    if spec.get("find_faces", DEFAULTS["find_faces"]):
        keys = VideoFaceParams.__dataclass_fields__
        detector = FaceDetector(VideoFaceParams(**{k: v for k, v in (video or {}).items() if k in keys}))
    ids, originals, labels, splits, pixels = [], [], [], [], []
    seen: dict[str, str] = {}
    with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
        names, rejects = arc.members()
        for name in names:
            path = PurePosixPath(name)
            reason = metadata_reason(name)
            if reason is None and path.suffix.lower() not in IMAGE_SUFFIXES:
                reason = f"not an image (suffix {path.suffix or 'none'!r})"
            sample_id = f"{corpus}-" + "-".join(p.lower() for p in path.with_suffix("").parts)
            if reason is None and sample_id in seen:
                reason = f"duplicate sample id {sample_id} (first seen as {seen[sample_id]})"
            try:
                if reason is None:
                    original, label, split = member_fields(name, spec)
                    face = face_pixels(gray_image(arc.read(name)), detector)
            except ValueError as exc:
                reason = str(exc)
            if reason is not None:
                rejects.append((name, reason))
                continue
            seen[sample_id] = name
            ids.append(sample_id)
            originals.append(original)
            labels.append(label)
            splits.append(split)
            pixels.append(face)
    label_of = np.array(labels, dtype=object)
    split_of = assign_shares(label_of, np.array(splits, dtype=object), spec)
    manifest = face_manifest(
        corpus,
        sample_ids=ids,
        labels=labels,
        original_labels=originals,
        splits=split_of.tolist(),
        images=np.stack(pixels) if pixels else np.zeros((0, FACE_PIXELS), np.uint8),
    )
    write_ingest(
        manifest,
        schema=FACE_MANIFEST,
        corpus=corpus,
        archive=str(archive),
        sha256=file_sha256(archive),
        rejects=sorted(rejects),
        manifest_path=manifest_path,
        rejects_path=rejects_path,
        summary_path=summary_path,
        max_reject_fraction=max_reject_fraction,
    )
