"""A pickle payload for the weight-loading tests: unpickling it would run code (it must never be unpickled)."""

from __future__ import annotations

SIDE_EFFECTS: list = []
"""What the payload appends to when it runs; the tests assert it stays empty."""


def _side_effect(msg: str) -> str:  # what a malicious pickle would run on load
    SIDE_EFFECTS.append(msg)
    return msg


class Evil:
    """Pickles as a call of :func:`_side_effect`."""

    def __reduce__(self):
        return (_side_effect, ("unpickled code ran",))
