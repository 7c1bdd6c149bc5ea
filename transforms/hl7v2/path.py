"""HL7 paths as analysts write them: ``PID-3``, ``PID-3[2]``, ``PID-3[1].4``, ``PID-5.1.1``, ``OBX[3]-5``.

All indexes are 1-based.  A segment index picks the n-th segment of that name; a field
repetition index picks the n-th repetition; then component and subcomponent.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Path", "parse_path"]

_PATH = re.compile(
    r"^(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<segi>\d+)\])?"
    r"-(?P<field>\d+)(?:\[(?P<rep>\d+)\])?"
    r"(?:\.(?P<comp>\d+)(?:\.(?P<sub>\d+))?)?$"
)


class Path(NamedTuple):
    """A parsed path; ``repetition``, ``component`` and ``subcomponent`` are None when not given."""

    segment: str
    segment_index: int
    field: int
    repetition: int | None
    component: int | None
    subcomponent: int | None

    def __str__(self) -> str:
        text = self.segment + (f"[{self.segment_index}]" if self.segment_index != 1 else "")
        text += f"-{self.field}" + (f"[{self.repetition}]" if self.repetition else "")
        if self.component:
            text += f".{self.component}"
        if self.subcomponent:
            text += f".{self.subcomponent}"
        return text


_CACHE: dict[str, Path] = {}


def parse_path(text: str) -> Path:
    """Parse ``text``; raise ValueError naming the expected form when it is not a valid HL7 path."""
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    match = _PATH.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid HL7 path {text!r}: expected SEG[-n]-FIELD[rep][.COMPONENT[.SUBCOMPONENT]], "
            "e.g. PID-3, PID-3[2], PID-3[1].4, OBX[3]-5, PID-5.1.1"
        )
    numbers = [int(v) if v else None for v in match.group("segi", "field", "rep", "comp", "sub")]
    if any(n == 0 for n in numbers):
        raise ValueError(f"invalid HL7 path {text!r}: indexes are 1-based, 0 is not allowed")
    path = Path(match["seg"], numbers[0] or 1, numbers[1] or 0, numbers[2], numbers[3], numbers[4])
    if len(_CACHE) < 4096:
        _CACHE[text] = path
    return path
