"""The one way JSON files are written and read: summaries, model cards, metrics, run records."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emorec.errors import DataError


def write_json(path: str | Path, data: Mapping[str, Any]) -> None:
    """Sorted, indented JSON with a trailing newline (byte-stable for equal data); values
    JSON cannot hold (paths, say) are written as strings."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from ``path``; fails naming the file when it is missing or malformed."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON: {exc}") from exc
