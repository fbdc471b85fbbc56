"""Retrain tolerances measured from the seeds: tolerances.json from the claims of each seed's pair.

The rule (the same for the grid's seeds and for benchmarks/claim_spread.py's retrains):

- a number that varies between the seeds: max(MULTIPLE x its standard deviation, its range). Four
  standard deviations keep a false alarm on an honest retrain below about 1 in 10,000 per claim
  for a normal spread; the range guards the small-k estimate of the deviation;
- a count (unit "count") at least the Poisson floor of the conservative rule (report/gate.py,
  3 sqrt(n) + 1): a count of test images moves by about sqrt(n) between retrains, and three
  seeds estimate that spread poorly;
- a number that every seed gave alike (a count of test images, or a rate that did not move): the
  conservative rule, since the seeds measured no spread for it, not that it cannot move;
- a text or a flag: exact when every seed agreed, not compared ("skip") when they did not;
- a claim of one image or one class (report/gate.py's UNSTABLE_PREFIXES): not compared.
"""

from __future__ import annotations

import statistics

from report.gate import COUNT_SIGMAS, SCHEMA, UNSTABLE_PREFIXES, conservative_tolerance

MULTIPLE = 4.0


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def claim_spread(name: str, values: list, entry: dict, claims: dict) -> dict:
    """The values of one claim over the seeds, their spread and the tolerance (module docstring)."""
    if name.startswith(UNSTABLE_PREFIXES):  # one image or one class: a few seeds do not measure it
        return {"values": values, "tolerance": "skip"}
    if not all(_number(v) for v in values):
        same = all(v == values[0] for v in values)
        return {"values": values, "tolerance": None if same else "skip"}
    if all(v == values[0] for v in values):
        return {"values": values, "tolerance": conservative_tolerance(name, entry, claims)}
    sd, rng = statistics.stdev(values), max(values) - min(values)
    tol = max(MULTIPLE * sd, rng)
    if entry.get("unit") == "count":
        tol = max(tol, COUNT_SIGMAS * statistics.fmean(abs(v) for v in values) ** 0.5 + 1)
    return {"values": values, "sd": sd, "range": rng, "tolerance": tol}


def measured_tolerances(samples: list[dict], reference: dict, claims: dict, how: str) -> dict:
    """tolerances.json from the claims of k >= 2 seeds ({name: value} each) for the claims of
    `reference` (the frozen results, whose units and names they follow)."""
    entries = reference.get("claims", {})
    return {
        "schema": SCHEMA,
        "profile": reference.get("profile"),
        "how": how,
        "multiple": MULTIPLE,
        "samples": len(samples),
        "claims": {
            name: claim_spread(name, [s.get(name) for s in samples], entry, claims)
            for name, entry in entries.items()
        },
    }
