"""Read corpus archives in place, defensively: nothing is ever extracted to disk.

An archive is a ``.zip`` file or a plain folder. Listing it splits its file members into
safe ones and refused ones (absolute paths, ``..``, links, absurd compression ratios), each
refusal with a reason, so ingest can put every member in its manifest or its rejects table.
"""

import hashlib
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Protocol

from emorec.errors import DataError

MISSING_HINT = (
    "Download the corpus (see docs/data.md) and put it there, point params.yaml "
    "(corpora.<name>.archive) or a --configfile at it, or keep the default demo paths "
    "(data/raw/demo/...) that the demo rules generate."
)


class Archive(Protocol):
    """What ingest and feature extraction need from an opened archive."""

    path: Path

    def members(self) -> tuple[list[str], list[tuple[str, str]]]:
        """``(safe file member names, [(refused member, reason), ...])``, both sorted."""
        ...

    def read(self, name: str) -> bytes:
        """The bytes of one safe member."""
        ...


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name could escape an extraction folder, or ``None`` when it is safe."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "path contains '..'"
    return None


class ZipArchive:
    """A zip file read in place."""

    def __init__(self, path: Path, *, max_compression_ratio: float) -> None:
        self.path = path
        self.max_compression_ratio = max_compression_ratio
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(
                f"{path}: not a readable zip archive ({exc}); is it truncated or corrupt?"
            ) from exc

    def members(self) -> tuple[list[str], list[tuple[str, str]]]:
        safe: list[str] = []
        refused: list[tuple[str, str]] = []
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            reason = unsafe_name_reason(info.filename)
            mode = info.external_attr >> 16
            if reason is None and stat.S_ISLNK(mode):
                reason = "symbolic link"
            if reason is None and info.file_size > self.max_compression_ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                reason = f"compression ratio {ratio:.0f} exceeds {self.max_compression_ratio:g} (zip bomb?)"
            if reason is None:
                safe.append(info.filename)
            else:
                refused.append((info.filename, reason))
        return sorted(safe), sorted(refused)

    def read(self, name: str) -> bytes:
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
            raise DataError(
                f"{self.path}: member {name!r} cannot be read ({exc}); the archive is corrupt"
            ) from exc

    def close(self) -> None:
        self._zip.close()


class FolderArchive:
    """A folder holding the archive's layout (as after a manual extraction)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def members(self) -> tuple[list[str], list[tuple[str, str]]]:
        safe: list[str] = []
        refused: list[tuple[str, str]] = []
        for root, dirs, files in os.walk(self.path, followlinks=False):
            for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
                full = Path(root) / name
                rel = full.relative_to(self.path).as_posix()
                if full.is_symlink():
                    refused.append((rel, "symbolic link"))
                else:
                    safe.append(rel)
        return sorted(safe), sorted(refused)

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def close(self) -> None:
        pass


def require_archive(path: str | Path) -> Path:
    """``path`` as a Path; a :class:`DataError` naming it and how to get the data if absent."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"archive not found: {path}. {MISSING_HINT}")
    return path


@contextmanager
def open_archive(path: str | Path, *, max_compression_ratio: float = 100.0) -> Iterator[Archive]:
    """Open a zip file or folder for in-place reading; a clear error when it is missing."""
    path = require_archive(path)
    archive: ZipArchive | FolderArchive
    if path.is_dir():
        archive = FolderArchive(path)
    elif zipfile.is_zipfile(path):
        archive = ZipArchive(path, max_compression_ratio=max_compression_ratio)
    else:
        raise DataError(f"{path}: neither a folder nor a zip archive (truncated or corrupt?)")
    try:
        yield archive
    finally:
        archive.close()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (or, for a folder, of its sorted member names and contents)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for member in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
            digest.update(member.relative_to(path).as_posix().encode() + b"\0")
            digest.update(member.read_bytes())
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
