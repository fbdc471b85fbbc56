"""freeze: exactly what the last build of a profile used (its inputs and its numbers) into
report/frozen/<profile>/, listing the claims that move; import freezes through it too."""

from __future__ import annotations

import shutil
from pathlib import Path

from commands import workspace
from commands.workspace import Paths, log, output_paths, shown
from pipeline.config import MODELS, ConfigError
from pipeline.files import atomic_dir, ensure_writable, folder_lock, write_json
from pipeline.leftovers import clean_leftovers
from pipeline.project import ROOT
from pipeline.stages import file_digest


def last_build(args) -> tuple[Paths, dict]:
    """The output folder of the profile's last build and its results.json (a setup error when none)."""
    from report.claims import load_results

    paths = output_paths(args)
    if not paths.results.exists():
        raise ConfigError(
            f"{paths.results} does not exist: build first with python build.py --profile {args.profile}"
        )
    results = load_results(paths.results)
    if results.get("profile") != args.profile:
        raise ConfigError(
            f"{paths.results} holds the results of profile {results.get('profile')!r}, not {args.profile!r}: "
            f"give --profile {results.get('profile')} or the output folder of {args.profile}"
        )
    return paths, results


def frozen_results(profile: str) -> dict | None:
    from report.claims import load_results

    path = workspace.FROZEN / profile / "results.json"
    return load_results(path) if path.exists() else None


def used_files(results: dict, paths: Paths) -> dict[str, dict[str, Path]]:
    """{model: {"eval", "history"}} the build read, verified unchanged since by their digests."""
    files = results.get("files")
    if not isinstance(files, dict) or set(files) != set(MODELS):
        raise ConfigError(
            f"{paths.results} does not say which files it used (an older build): build again, then freeze"
        )
    return recorded(files, results.get("inputs"), MODELS, paths)


def used_run_files(results: dict, paths: Paths) -> dict[str, dict[str, Path]]:
    """{run: {"eval", "history"}} of the grid's other runs the build read (compact predictions)."""
    digests = (results.get("inputs") or {}).get("runs", {})
    return recorded(results.get("run_files"), digests, list(digests), paths)


def recorded(files, digests, names, paths: Paths) -> dict[str, dict[str, Path]]:
    """The files results.json records for `names` ({name: {"eval", "history"}}), each checked
    unchanged since the build by the digest it records."""
    try:
        out = {n: {kind: ROOT / str(files[n][kind]) for kind in ("eval", "history")} for n in names}
        sums = {n: {kind: digests[n][kind] for kind in ("eval", "history")} for n in names}
    except (KeyError, TypeError):
        raise ConfigError(
            f"{paths.results} does not say which files it used, or their digests: build again, then freeze"
        ) from None
    for name, kinds in out.items():
        for kind, path in kinds.items():
            if not path.is_file() or file_digest(path) != sums[name][kind]:
                raise ConfigError(
                    f"{shown(path)} changed or vanished since the last build of {paths.profile}: "
                    f"build again (python build.py --profile {paths.profile}), then freeze"
                )
    return out


FROZEN_SOURCES = dict.fromkeys(MODELS, "frozen")


def frozen_files(target: Path) -> dict[str, dict[str, str]]:
    """Where a frozen folder keeps each model's inputs, as results.json records them."""
    return {
        m: {"eval": shown(target / m / "eval.npz"), "history": shown(target / m / "history.json")}
        for m in MODELS
    }


def _kind(results: dict, model: str) -> str:
    prov = (results.get("provenance") or {}).get(model) or {}
    return "given weights" if prov.get("weights_given") else "trained"


def copy_checked(source: Path, copy: Path, digest: str) -> None:
    """Copy a file into the frozen folder being written, refusing one that changed since the build."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, copy)
    if file_digest(copy) != digest:
        raise ConfigError(f"{shown(source)} changed while it was frozen: freeze again")


def freeze(args) -> None:
    """Freeze exactly what the last build of the profile used: its inputs and its numbers, and the
    tolerances its seeds measure where they were trained here."""
    paths, results = last_build(args)
    files, runs = used_files(results, paths), used_run_files(results, paths)
    measured = seed_tolerances(paths, results)
    freeze_into(args, files, results, {"tolerances.json": measured} if measured else None, runs=runs)


def seed_tolerances(paths: Paths, results: dict) -> bytes | None:
    """tolerances.json (report/tolerances.py) from the claims of every seed of the grid whose pair
    has full evaluations here, the primary pair's being the build's own; None for fewer than two."""
    import json

    from commands.analyse import analyse_files, analysis_config
    from commands.workspace import RunFiles
    from pipeline.grid import GRIDS, STUDY_SEED, Cell
    from report.claims import load_claims
    from report.tolerances import measured_tolerances

    samples, seeds = [{n: e.get("value") for n, e in results["claims"].items()}], [STUDY_SEED]
    for seed in GRIDS[paths.profile].seeds[1:]:
        folders = {m: paths.run_dir(Cell(m, seed).name) for m in MODELS}
        if all((f / "eval.npz").is_file() and (f / "history.json").is_file() for f in folders.values()):
            pair = {m: RunFiles(f / "eval.npz", f / "history.json", "trained") for m, f in folders.items()}
            claims = analyse_files(pair, analysis_config(), paths.profile)["claims"]
            samples.append({n: e.get("value") for n, e in claims.items()})
            seeds.append(seed)
    if len(samples) < 2:
        return None
    how = f"the claims of the seeds {seeds}, each a pair trained here (report/tolerances.py)"
    doc = measured_tolerances(samples, results, load_claims(workspace.CLAIMS), how)
    log(f"measured the tolerances of {len(doc['claims'])} claims from {len(seeds)} seeds")
    return (json.dumps(doc, indent=1) + "\n").encode()


def kept_files(target: Path, old: dict | None, results: dict) -> dict[str, bytes]:
    """What a new freeze keeps of the old frozen folder: tolerances.json (measured separately), and the
    GPU job's record (job*/) while the frozen inputs stay the same."""
    if not target.is_dir():
        return {}
    kept = {p: p.read_bytes() for p in [target / "tolerances.json"] if p.is_file()}
    if old is not None and old.get("inputs") == results.get("inputs"):
        kept |= {
            p: p.read_bytes() for d in target.glob("job*") if d.is_dir() for p in d.iterdir() if p.is_file()
        }
    return {str(p.relative_to(target)): data for p, data in kept.items()}


def freeze_into(
    args,
    files: dict[str, dict[str, Path]],
    results: dict,
    extra: dict[str, bytes] | None = None,
    origin: str = "",
    runs: dict[str, dict[str, Path]] | None = None,
) -> None:
    """Write files ({model: {"eval", "history"}}), the grid's other runs (`runs`, the same by run
    name, kept in runs/<run>/) and their numbers into report/frozen/<profile>/.

    Shows which claims move against the numbers frozen now, then writes the folder atomically.
    Refuses when the frozen results would change in kind (trained <-> given weights) without
    --replace, and a file that changes while it is copied. `extra` ({relative path: bytes}) is
    written beside them (a GPU job's log).
    """
    from pipeline.evalfile import load_eval, provenance_of
    from report.gate import moved_claims

    target, old = workspace.FROZEN / args.profile, frozen_results(args.profile)
    for model in MODELS:
        if old is not None and _kind(old, model) != _kind(results, model) and not args.replace:
            raise ConfigError(
                f"the last build's {model} is {_kind(results, model)} but {shown(target)} holds {_kind(old, model)} "
                "results: give --replace to overwrite them"
            )
    moved = moved_claims(old, results) if old is not None else []
    for name, before, after in moved:
        log(f"  moves  {name}: {before} -> {after}")
    origin = origin or ", ".join(
        f"{m} from {shown(files[m]['eval'].parent)} ({results['sources'][m]})" for m in MODELS
    )
    if args.dry_run:
        moving = f"{len(moved)} claims would move" if old is not None else "no numbers are frozen yet"
        log(f"would freeze {origin}: {moving} (--dry-run: nothing written)")
        return
    with folder_lock(
        ensure_writable(workspace.FROZEN), log
    ):  # one freeze at a time: the clean-up takes no live folder
        clean_leftovers(workspace.FROZEN, [args.profile])  # what a killed freeze left
        written = kept_files(target, old, results) | (extra or {})
        with atomic_dir(target, elsewhere="") as tmp:  # report/frozen/ has no other place
            for model in MODELS:
                for kind, name in (("eval", "eval.npz"), ("history", "history.json")):
                    copy_checked(files[model][kind], tmp / model / name, results["inputs"][model][kind])
                write_json(
                    tmp / model / "provenance.json", provenance_of(load_eval(tmp / model / "eval.npz"))
                )
            for run, kinds in (runs or {}).items():
                for kind, name in (("eval", "predictions.npz"), ("history", "history.json")):
                    copy_checked(kinds[kind], tmp / "runs" / run / name, results["inputs"]["runs"][run][kind])
            frozen = {"files": frozen_files(target), "sources": FROZEN_SOURCES}
            if runs:  # where the grid's other runs now lie
                frozen["run_files"] = {
                    n: {"eval": shown(target / "runs" / n / "predictions.npz"),
                        "history": shown(target / "runs" / n / "history.json")} for n in runs
                }  # fmt: skip
                frozen["run_sources"] = dict.fromkeys(runs, "frozen")
            write_json(tmp / "results.json", results | frozen)
            for name, data in written.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(data)
    log(f"froze {origin} into {shown(target)}" + (f"; {len(moved)} claims moved" if old is not None else ""))
