"""The spread of every claim over retrains with other seeds, and the retrain tolerances derived from it.

Trains and evaluates both models of a profile k times, each time with another seed (initialisation,
batch order, augmentation, CutMix draws), analyses each pair as build.py does, and writes per claim
the values, their standard deviation and range, and the tolerance the regression gate allows a
retrain (report/gate.py):

    tolerance = max(MULTIPLE x standard deviation, range)   for numbers,
    exact where every seed gave the same value, and "skip" (not compared) for a class name or a
    flag that changed between seeds.

A retrain on another machine with the same seed differs from ours the way another seed does: the
first kernels oneDNN or cuDNN choose differently already move the 4th decimal of the first loss,
and training amplifies that. The frozen run, where there is one, is one more honest sample and
joins the seeds: a tolerance must admit the run it is measured against. MULTIPLE = 4 standard
deviations keeps a false alarm on an honest retrain below about 1 in 10,000 per claim for a normal
spread; the range guards the small-k estimate of the deviation.

    .venv/bin/python benchmarks/claim_spread.py --profile smoke --seeds 42 43 44 45 46 \
        [--data-dir ../shared/data] [--out report/frozen/smoke/tolerances.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from commands import workspace  # noqa: E402
from commands.analyse import analyse_files, analysis_config  # noqa: E402
from commands.freeze import frozen_results  # noqa: E402
from commands.workspace import RunFiles  # noqa: E402
from pipeline.config import MODELS, run_config  # noqa: E402
from pipeline.files import write_json  # noqa: E402

MULTIPLE = 4.0
SCHEMA = 1


def seeded(profile: str, model: str, seed: int):
    cfg = run_config(profile, model)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))


def one_seed(profile: str, seed: int, data: Path, work: Path, precision: str) -> dict:
    """Train and evaluate both models with this seed; the claims of their analysis {name: value}."""
    from pipeline.data import load_splits
    from pipeline.evaluate import evaluate_weights
    from pipeline.train import train_run

    runs = {}
    for model in MODELS:
        cfg = seeded(profile, model, seed)
        run_dir = work / f"seed{seed}" / model
        train_run(cfg, load_splits(cfg.data, data), run_dir, "cpu", precision=precision, progress=False)
        evaluate_weights(
            cfg, run_dir / "checkpoint.pt", data, run_dir, device_name="cpu", precision=precision
        )
        runs[model] = RunFiles(run_dir / "eval.npz", run_dir / "history.json", "trained")
    results = analyse_files(runs, analysis_config(), profile)
    return {name: entry.get("value") for name, entry in results["claims"].items()}


def spread(values: list) -> dict:
    """Values of one claim over the seeds -> their spread and the tolerance (module docstring)."""
    if all(v == values[0] for v in values):
        return {"values": values, "tolerance": None}  # None: must be equal
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values):
        return {"values": values, "tolerance": "skip"}
    sd, rng = statistics.stdev(numbers), max(numbers) - min(numbers)
    return {"values": values, "sd": sd, "range": rng, "tolerance": max(MULTIPLE * sd, rng)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44, 45, 46])
    parser.add_argument("--data-dir", help="folder holding cifar-100-python (default as build.py)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--out", help="where to write (default report/frozen/<profile>/tolerances.json)")
    args = parser.parse_args()
    if len(args.seeds) < 3:
        parser.error("give at least three seeds: a spread of two is no estimate")
    from pipeline.data import resolve_data_dir
    from pipeline.precision import resolve_precision

    data = resolve_data_dir(args.data_dir)
    precision = resolve_precision(args.precision, "cpu")
    out = Path(args.out) if args.out else workspace.FROZEN / args.profile / "tolerances.json"
    by_seed, start = {}, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="claim-spread-") as tmp:
        for seed in args.seeds:
            by_seed[seed] = one_seed(args.profile, seed, data, Path(tmp), precision)
            print(f"seed {seed}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    frozen = frozen_results(args.profile)
    samples = list(by_seed.values()) + (
        [{n: e.get("value") for n, e in frozen["claims"].items()}] if frozen else []
    )
    names = list(dict.fromkeys(n for claims in samples for n in claims))
    claims = {n: spread([sample.get(n) for sample in samples]) for n in names}
    doc = {
        "schema": SCHEMA,
        "profile": args.profile,
        "how": f"retrained with seeds {args.seeds} on this CPU in {precision} (benchmarks/claim_spread.py)"
        + (", with the frozen run as one more sample (its value last); " if frozen else "; ")
        + f"tolerance = max({MULTIPLE:g} x standard deviation, range); exact where all seeds agreed; "
        "not compared where a class name or flag changed",
        "multiple": MULTIPLE,
        "seeds": args.seeds,
        "frozen_run_included": frozen is not None,
        "precision": precision,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start),
        "claims": claims,
    }
    write_json(out, doc)
    varied = sum(c["tolerance"] not in (None, "skip") for c in claims.values())
    skipped = sum(c["tolerance"] == "skip" for c in claims.values())
    print(
        f"{len(claims)} claims: {varied} vary, {skipped} not comparable, the rest equal in every seed; wrote {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
