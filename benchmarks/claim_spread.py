"""The spread of every claim over retrains with other seeds, and the retrain tolerances derived from it.

Trains and evaluates both models of a profile k times, each time with another seed (initialisation,
batch order, augmentation, CutMix draws), analyses each pair as build.py does, and writes per claim
the values, their standard deviation and range, and the tolerance the regression gate allows a
retrain, by the rule of report/tolerances.py (max(4 standard deviations, range), counts at least
their Poisson floor; what no seed moved keeps the conservative rule; texts exact or not compared),
the rule `freeze` also applies to a profile's grid of seeds.

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
from pipeline.config import MODELS  # noqa: E402
from pipeline.files import write_json  # noqa: E402
from pipeline.grid import Cell, cell_config  # noqa: E402
from report.claims import load_claims  # noqa: E402
from report.tolerances import MULTIPLE, measured_tolerances  # noqa: E402


def one_seed(profile: str, seed: int, data: Path, work: Path, precision: str) -> dict:
    """Train and evaluate both models with this seed; their results (the claims and their units)."""
    from pipeline.data import load_splits
    from pipeline.evaluate import evaluate_weights
    from pipeline.train import train_run

    runs = {}
    for model in MODELS:
        cfg = cell_config(profile, Cell(model, seed))
        run_dir = work / f"seed{seed}" / model
        train_run(cfg, load_splits(cfg.data, data), run_dir, "cpu", precision=precision, progress=False)
        evaluate_weights(
            cfg, run_dir / "checkpoint.pt", data, run_dir, device_name="cpu", precision=precision
        )
        runs[model] = RunFiles(run_dir / "eval.npz", run_dir / "history.json", "trained")
    return analyse_files(runs, analysis_config(), profile)


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
    reference = frozen or next(iter(by_seed.values()))
    samples = [{n: e.get("value") for n, e in r["claims"].items()} for r in by_seed.values()]
    samples += [{n: e.get("value") for n, e in frozen["claims"].items()}] if frozen else []
    how = (
        f"retrained with seeds {args.seeds} on this CPU in {precision} (benchmarks/claim_spread.py)"
        + (", with the frozen run as one more sample (its value last)" if frozen else "")
        + f"; tolerance = max({MULTIPLE:g} x standard deviation, range), by report/tolerances.py"
    )
    doc = measured_tolerances(samples, reference, load_claims(workspace.CLAIMS), how)
    doc |= {"seeds": args.seeds, "frozen_run_included": frozen is not None, "precision": precision}
    doc |= {
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start),
    }
    claims = doc["claims"]
    write_json(out, doc)
    varied = sum("sd" in c for c in claims.values())
    skipped = sum(c["tolerance"] == "skip" for c in claims.values())
    print(f"{len(claims)} claims: {varied} vary between the seeds, {skipped} not compared; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
