"""JSON from files the build did not just write: bounded before it is parsed.

Python's json module recurses once per nesting level (a few thousand `[` raise RecursionError),
turns 1e4000 into inf, accepts NaN and Infinity, and converts integers of any length (past 4,300
digits a ValueError, below that an int that overflows `float()` later). Every file the build
reads back is a flat record of at most six levels with counts and finite floats, so anything
beyond the bounds below is a damaged or hostile file, refused here with a short reason that the
caller puts after the file's name.
"""

from __future__ import annotations

import json
import math
import re

MAX_DEPTH = 32  # the deepest file the build writes (results.json) nests 6 levels
MAX_DIGITS = 32  # the longest integer it writes has 11 digits (a byte count)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JSONInputError(ValueError):
    """Text that is not bounded, finite JSON; the message is the reason, without the file's name."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text, strings skipped (an unclosed one counts as text)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise JSONInputError(f"an integer of {len(digits.lstrip('-'))} digits (at most {MAX_DIGITS})")
    return int(digits)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONInputError(f"the number {text[:20]} is out of range")
    return value


def _no_constant(name: str):
    raise JSONInputError(f"{name} is not a number JSON allows")


def parse_json(raw: bytes | str, nonfinite: bool = False):
    """The document in `raw` (UTF-8 bytes or text); JSONInputError (a ValueError) if it is not JSON
    within the bounds above. UnicodeDecodeError, also a ValueError, for bytes that are not UTF-8.

    `nonfinite` reads NaN, Infinity and out-of-range floats as float NaN and inf, for a reader that
    checks every number itself and can name the field that holds one (a diverged run's loss)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if nesting_depth(text) > MAX_DEPTH:
        raise JSONInputError(f"nested deeper than {MAX_DEPTH} levels")
    floats = {} if nonfinite else {"parse_float": _finite, "parse_constant": _no_constant}
    try:
        return json.loads(text, parse_int=_integer, **floats)
    except JSONInputError:
        raise
    except ValueError as exc:  # json.JSONDecodeError: its first line says where
        raise JSONInputError(str(exc).splitlines()[0][:100]) from None
