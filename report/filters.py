"""Named Jinja filters: how the report writes numbers.

Templates never type or compute a number; they pass values from results.json through one of
these. Each is a small pure function from a value to text, so it can be tested on its own.
Negative numbers use the real minus sign (U+2212), as typeset text should.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup, escape

MINUS = "\u2212"  # typographic minus sign, not the hyphen
MISSING = "n/a"  # what a filter prints for a missing value (None, NaN)

_SMALL = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _missing(x: Any) -> bool:
    if isinstance(x, Undefined):
        x._fail_with_undefined_error()  # StrictUndefined: a missing name is an error, not "n/a"
    return x is None or (isinstance(x, float) and math.isnan(x))


def _signed(text: str, x: float) -> str:
    """Prefix text (formatted from |x|) with + or a real minus; zero gets no sign."""
    if text.strip("0.,") == "":
        return text
    return ("+" if x > 0 else MINUS) + text


def num(x: Any, digits: int = 2) -> str:
    """A plain decimal: num(1.23456) -> '1.23'; negative with a real minus."""
    if _missing(x):
        return MISSING
    text = f"{abs(float(x)):,.{digits}f}"
    return MINUS + text if float(x) < 0 and text.strip("0.,") else text


def pct(x: Any, digits: int = 2) -> str:
    """A percent value (0-100): pct(60.69) -> '60.69%'."""
    return MISSING if _missing(x) else num(x, digits) + "%"


def conf(x: Any, digits: int = 1) -> str:
    """A confidence in percent, as the study prints them: conf(95.93) -> '95.9%'.

    A confidence short of certainty is never rounded up to it: conf(99.98) -> '99.98%'.
    """
    if _missing(x):
        return MISSING
    while digits < 4 and float(x) < 100 and round(float(x), digits) >= 100:
        digits += 1
    return pct(x, digits)


NBSP_PTS = "\u00a0pts"  # the unit after a difference of percents


def points(x: Any, digits: int = 2) -> str:
    """A signed difference of percents: points(15.01) -> '+15.01 pts', points(-2) -> '−2.00 pts'."""
    if _missing(x):
        return MISSING
    return _signed(f"{abs(float(x)):.{digits}f}", float(x)) + NBSP_PTS


def thousands(x: Any, signed: bool = False) -> str:
    """A count with thousands separators: thousands(3931) -> '3,931'; signed adds + or −."""
    if _missing(x):
        return MISSING
    n = int(round(float(x)))
    text = f"{abs(n):,}"
    if signed:
        return _signed(text, n)
    return MINUS + text if n < 0 else text


def words(x: Any) -> str:
    """A small count in words: words(2) -> 'two'; past twenty, digits with separators."""
    if _missing(x):
        return MISSING
    n = int(round(float(x)))
    return _SMALL[n] if 0 <= n < len(_SMALL) else thousands(n)


def fraction_pct(x: Any, digits: int = 0) -> str:
    """A fraction (0-1) as a percent: fraction_pct(0.9) -> '90%' (thresholds, coverages)."""
    return MISSING if _missing(x) else pct(100.0 * float(x), digits)


def relchange(reduction: Any, digits: int = 0) -> str:
    """A reduction in percent as a signed relative change: relchange(86.0) -> '−86%'."""
    if _missing(reduction):
        return MISSING
    change = -float(reduction)
    return _signed(f"{abs(change):.{digits}f}", change) + "%"


def pvalue(p: Any) -> str:
    """A p-value: 'p = 0.023', or in powers of ten below 0.001: 'p = 2.1 × 10⁻²³¹'."""
    if _missing(p):
        return MISSING
    p = float(p)
    if p == 0.0:
        return "p < 10" + "-300".translate(_SUPERSCRIPT)  # below double precision
    if p >= 0.001:
        return f"p = {p:.3f}"
    mantissa, exponent = f"{p:.1e}".split("e")
    return f"p = {mantissa} × 10" + str(int(exponent)).translate(_SUPERSCRIPT)


def sci(x: Any) -> str:
    """A setting in powers of ten when small: sci(0.0005) -> '5 × 10⁻⁴', sci(0.1) -> '0.1'."""
    if _missing(x):
        return MISSING
    x = float(x)
    if x == 0 or abs(x) >= 0.01:
        return value(x)
    mantissa, exponent = f"{x:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa} × 10" + str(int(exponent)).translate(_SUPERSCRIPT)


def join_and(items: Any) -> str:
    """A list as prose: join_and([25, 40]) -> '25 and 40'."""
    items = [value(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def label(name: Any) -> str:
    """A class name as prose: label('maple_tree') -> 'maple tree'."""
    return MISSING if _missing(name) else str(name).replace("_", " ")


def yesno(flag: Any) -> str:
    return MISSING if _missing(flag) else ("yes" if flag else "no")


def value(x: Any) -> str:
    """Any value of unknown kind (claim checks, settings): numbers compactly, lists joined."""
    if _missing(x):
        return "—"
    if isinstance(x, bool):
        return yesno(x)
    if isinstance(x, int):
        return thousands(x) if abs(x) >= 10_000 else (MINUS + str(-x) if x < 0 else str(x))
    if isinstance(x, float):
        text = f"{x:.4g}"
        return MINUS + text[1:] if text.startswith("-") else text
    if isinstance(x, list | tuple):
        return ", ".join(value(v) for v in x) if x else "none"
    return str(x)


# How a claim is written by default, by its unit (pipeline/RESULTS.md lists the units).
BY_UNIT: dict[str, Callable[..., str]] = {
    "percent": pct,
    "points": points,
    "count": thousands,
    "nats": lambda x: num(x, 3),
    "fraction": lambda x: num(x, 3),
    "p": pvalue,
    "temperature": lambda x: num(x, 2),
    "class": label,
    "flag": yesno,
}


def in_unit(x: Any, unit: str, digits: int | None = None) -> str:
    """A value written by its unit as a claim would be (BY_UNIT); `digits` for the decimal units;
    an epoch is a whole number, a gap unsigned points."""
    if unit == "epoch":
        return thousands(x)
    if unit == "gap":  # a train − val gap: points, but never negative in a memorising run, so unsigned
        return MISSING if _missing(x) else num(x, 1 if digits is None else digits) + NBSP_PTS
    if digits is not None and unit in ("percent", "points"):
        return (pct if unit == "percent" else points)(x, digits)
    return BY_UNIT.get(unit, value)(x)


def span(spread: Any, unit: str, digits: int = 1) -> str:
    """The range of a spread {min, max} in its unit: '28.0–29.4%', '96–127', '+1.8 to +2.9 pts';
    one value when both ends print alike: 'all 0'."""
    if _missing(spread) or spread.get("min") is None:
        return MISSING
    # a percent short of 100 never rounds up to it (conf), so 99.95 is not "100.0%"
    write = (lambda x: conf(x, digits)) if unit == "percent" else (lambda x: in_unit(x, unit, digits))
    lo, hi = write(spread["min"]), write(spread["max"])
    if lo == hi:
        return f"all {lo}"
    if unit == "points":
        return f"{lo.removesuffix(NBSP_PTS)} to {hi}"
    if unit == "gap":
        return f"{lo.removesuffix(NBSP_PTS)}–{hi}"
    if unit == "percent":
        return f"{lo.removesuffix('%')}–{hi}"
    return f"{lo}–{hi}"


def mean_sd(spread: Any, unit: str, digits: int = 2) -> str:
    """A spread's mean ± its sd: '28.65 ± 0.71%', '+2.51 ± 0.59 pts', '116.3 ± 17.6' (counts)."""
    if _missing(spread) or spread.get("mean") is None:
        return MISSING
    mean, sd = spread["mean"], spread["sd"]
    if unit == "count":
        centre, width = num(mean, 1), num(sd, 1)
    elif unit == "points":
        centre, width = points(mean, digits).removesuffix(NBSP_PTS), num(sd, digits)
    else:
        centre, width = num(mean, digits), num(sd, digits)
    tail = {"percent": "%", "points": NBSP_PTS, "gap": NBSP_PTS}.get(unit, "")
    return f"{centre} ± {width}{tail}" if sd is not None else f"{centre}{tail}"


def claim_text(claim: Any, style: str | None = None, *args: Any) -> str:
    """Format a claim {value, unit} with a named filter, or by its unit when style is None."""
    if isinstance(claim, Undefined):
        claim._fail_with_undefined_error()
    if not isinstance(claim, Mapping) or "value" not in claim:
        raise TypeError(f"not a claim (a mapping with 'value' and 'unit'): {claim!r}")
    if style is None:
        return BY_UNIT.get(claim.get("unit", ""), value)(claim["value"])
    return FILTERS[style](claim["value"], *args)


def dotbreak(name: Any) -> Markup:
    """A dotted claim name that may wrap after each dot, not mid-word: 'a.b' -> 'a.<wbr>b' (escaped)."""
    return Markup(".<wbr>").join(escape(str(name)).split("."))


FILTERS: dict[str, Callable[..., str]] = {
    "dotbreak": dotbreak,
    "num": num,
    "pct": pct,
    "conf": conf,
    "points": points,
    "thousands": thousands,
    "words": words,
    "fraction_pct": fraction_pct,
    "relchange": relchange,
    "pvalue": pvalue,
    "label": label,
    "yesno": yesno,
    "sci": sci,
    "join_and": join_and,
    "value": value,
    "claim_text": claim_text,
    "in_unit": in_unit,
    "span": span,
    "mean_sd": mean_sd,
}
