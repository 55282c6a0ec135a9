"""Speaker-independent splits: a speaker's clips all land in one split, never spread."""

from collections.abc import Iterable
from dataclasses import dataclass

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SpeakerSplit:
    """Held-out validation and test speakers; everyone else trains."""

    val: Iterable[str]
    test: Iterable[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "val", frozenset(self.val))
        object.__setattr__(self, "test", frozenset(self.test))
        overlap = self.val & self.test  # type: ignore[operator]
        if overlap:
            raise ValueError(f"speakers {sorted(overlap)} are held out for both val and test")

    def of(self, speaker: str) -> str:
        """The split of ``speaker``: ``"val"``, ``"test"`` or ``"train"``."""
        if speaker in self.test:  # type: ignore[operator]
            return "test"
        if speaker in self.val:  # type: ignore[operator]
            return "val"
        return "train"
