"""Build the report of "Stress-Testing Convolutional Neural Networks": one command, every stage cached.

    python build.py [--profile paper|smoke]      train or load, evaluate, analyse, check, draw, render
    python build.py freeze --profile P [--dry-run]   freeze what the last build used into report/frozen/P/
    python build.py check --profile P [--against published|frozen] [--json] [--junit F] [--markdown F]
    python build.py diff [REV | OLD_OUT NEW_OUT] --profile P   this build against the frozen numbers at REV
    python build.py serve --profile P [--port N]   build, serve on 127.0.0.1, rebuild and reload on change
    python build.py bundle --profile paper         the paper run as a portable GPU job (gpu/README.md)
    python build.py import results-paper.tar       verify what the job returned, freeze it into report/frozen/

check and diff exit 0 when every claim passes, 1 when a claim failed or is missing, 2 on a usage or
setup error.

The flow of ../shared/DESIGN.md. `main()` reads like the report's table of contents; each stage
runs only when its config, inputs or code changed, and says what it did and why. A build that
only renders never imports torch.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import MODELS, PROFILES, AnalysisConfig, ConfigError, RunConfig, run_config, to_dict
from pipeline.errors import StudyError
from pipeline.files import atomic_dir, claim_folder, ensure_writable, folder_lock, scratch_dir, write_json
from pipeline.leftovers import clean_leftovers
from pipeline.stages import ROOT, Key, Stage, file_digest

if TYPE_CHECKING:
    from report.publish import Figures

RUNS = ROOT / "runs"  # runs/<profile>/<model>/: checkpoint, history, eval (git-ignored)
FROZEN = ROOT / "report" / "frozen"  # report/frozen/<profile>/<model>/: committed results
SYNTHETIC = ROOT / "data" / "synthetic"  # generated stand-in data for --synthetic (git-ignored)
CASES = ROOT / "assets" / "cases.yaml"  # the failure cases shown, and the study's hypotheses
CLAIMS = ROOT / "report" / "claims.yaml"  # what the study states, with tolerances

# The code each stage's key hashes, beside its config and input files (pipeline/stages.py).
CODE = {
    "train": [
        "pipeline/" + f
        for f in (
            "config.py",
            "data.py",
            "model.py",
            "augment.py",
            "train.py",
            "checkpoint.py",
            "precision.py",
        )
    ],
    "evaluate": [
        "pipeline/" + f
        for f in (
            "config.py",
            "data.py",
            "model.py",
            "evaluate.py",
            "evalfile.py",
            "gradcam.py",
            "precision.py",
            "checkpoint.py",
            "cases.py",
            "scores.py",
        )
    ],
    "analyse": [
        "pipeline/" + f
        for f in (
            "config.py",
            "analysis.py",
            "evalfile.py",
            "npzfile.py",
            "jsonfile.py",
            "historyfile.py",
            "scores.py",
            "cases.py",
            "calibration.py",
            "selective.py",
            "stats.py",
            "migration.py",
            "confusions.py",
            "attention.py",
        )
    ]
    + ["report/cases.py", "report/yamlfile.py"],
    "check": [
        "report/claims.py",
        "report/yamlfile.py",
        "pipeline/evalfile.py",
        "pipeline/npzfile.py",
        "pipeline/jsonfile.py",
    ],
    "figures": [
        "report/figures.py",
        "report/figures_beyond.py",
        "report/panels.py",
        "report/cam.py",
        "report/style.py",
        "report/arrays.py",
        "report/filters.py",
        "report/svg.py",
        "report/drawing.py",
        "pipeline/config.py",
    ],
    "render": [
        "report/publish.py",
        "report/render.py",
        "report/context.py",
        "report/filters.py",
        "report/claims.py",
        "report/yamlfile.py",
        "pipeline/evalfile.py",
        "pipeline/npzfile.py",
        "pipeline/jsonfile.py",
        "report/drawing.py",
        "report/differences.py",
        "pipeline/config.py",
        "templates",
        "assets",
    ],
}
# Each stage's entry point, whose imports (within pipeline/ and report/) CODE must list; a test
# keeps the two in step. These modules move files and report errors but shape no output:
STAGE_ENTRY = {
    "analyse": ["pipeline.analysis", "pipeline.evalfile", "pipeline.historyfile", "report.cases"],
    "check": ["report.claims"],
    "figures": ["report.figures"],
    "render": ["report.publish"],
}
SHAPES_NO_OUTPUT = [
    "pipeline/errors.py",
    "pipeline/files.py",
    "pipeline/leftovers.py",
    "pipeline/outputerror.py",
]


OUTPUT_NAMES = (
    "results.json",
    "checks.json",
    "figures",
    "site",
    "report.pdf",
)  # what a build writes in --out


def log(message: str) -> None:
    print(message, flush=True)


def shown(path: Path) -> str:
    """A path as the user reads it: relative to the project when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# ----------------------------------------------------------------------------- where things live


@dataclass(frozen=True)
class Paths:
    profile: str
    out: Path  # out/<profile>: results, checks, figures, site, PDF

    def run_dir(self, model: str) -> Path:
        return RUNS / self.profile / model

    def frozen_dir(self, model: str) -> Path:
        return FROZEN / self.profile / model

    @property
    def results(self) -> Path:
        return self.out / "results.json"

    @property
    def checks(self) -> Path:
        return self.out / "checks.json"

    def key(self, stage: str) -> Path:
        return self.out / ".keys" / f"{stage}.json"


def output_paths(args) -> Paths:
    """Where this command's profile writes: --out, else out/<profile>."""
    return Paths(args.profile, Path(args.out) if args.out else ROOT / "out" / args.profile)


@dataclass(frozen=True)
class RunFiles:
    """What the analysis reads of one model: its evaluation and its training history."""

    eval: Path
    history: Path
    source: str  # "frozen", "trained" or "checkpoint"


def code_paths(stage: str) -> list[Path]:
    return [ROOT / p for p in CODE[stage]]


# ----------------------------------------------------------------------------- train or load, evaluate


def frozen_complete(folder: Path) -> bool:
    return (folder / "eval.npz").exists() and (folder / "history.json").exists()


def data_folder(args) -> Path:
    from pipeline.data import resolve_data_dir

    if not args.synthetic:
        return resolve_data_dir(args.data_dir)
    from pipeline.synthetic import write_synthetic

    folder = SYNTHETIC / "cifar-100-python"
    return folder if (folder / "SYNTHETIC").exists() else write_synthetic(SYNTHETIC)


def run_precision(args) -> str:
    """ "fp32" or "bf16": --precision, with auto resolved for the device the run would use."""
    from pipeline.device import resolve_device
    from pipeline.precision import resolve_precision

    return resolve_precision(args.precision, resolve_device(args.device))


def choose_device(args, cfg: RunConfig):
    import torch

    from pipeline.device import resolve_device
    from pipeline.train import estimate_cpu_hours

    if args.device or torch.cuda.is_available():
        return resolve_device(args.device)
    if cfg.profile == "paper":
        precision = run_precision(args)
        raise ConfigError(
            f"training the paper profile needs a CUDA GPU (no frozen results in {shown(FROZEN / cfg.profile)}; "
            f"about {estimate_cpu_hours(cfg, precision):.0f} hours per model on two CPU cores "
            f"in {precision}): "
            "use --profile cpu-study here (make demo), or run it as a GPU job (python build.py bundle, "
            "gpu/README.md) and import what it returns; --device cpu forces it"
        )
    return torch.device("cpu")


def train_stage(cfg: RunConfig, args, paths: Paths) -> Path:
    """Seed §3 and §6: train (or resume) one model.

    Training happens in run_dir/.training/ and its checkpoint and history replace the finished
    ones only at the end, so a failed or interrupted retrain leaves the previous run whole. A
    partial run there is resumed by a plain build when its key is the current one; --retrain
    always starts from scratch.
    """
    run_dir = paths.run_dir(cfg.model)
    staging = run_dir / ".training"
    outputs = [run_dir / "checkpoint.pt", run_dir / "history.json"]
    stage = Stage(f"train {cfg.model}", run_dir / ".keys" / "train.json", outputs)
    precision = run_precision(args)
    key = Key.of(
        {"run": to_dict(cfg), "synthetic": args.synthetic, "precision": precision}, [], code_paths("train")
    )

    def work():
        from pipeline.data import load_splits
        from pipeline.train import train_run

        device = choose_device(args, cfg)
        splits = load_splits(cfg.data, data_folder(args))
        if args.retrain or Stage("partial", staging / "key.json", []).stored() != key.__dict__:
            shutil.rmtree(staging, ignore_errors=True)  # from scratch: asked for, or settings/code changed
            write_json(staging / "key.json", key.__dict__)
        train_run(cfg, splits, staging, device, precision=precision)
        for path in outputs:
            os.replace(staging / path.name, path)
        shutil.rmtree(staging)

    stage.run(key, work, log, force=args.retrain)
    return run_dir / "checkpoint.pt"


def evaluate_stage(cfg: RunConfig, weights: Path, args, paths: Paths) -> RunFiles:
    """Test and val logits, Grad-CAM maps of every test image, the images the report shows.

    Weights given with --checkpoint-* are evaluated into <run>/given/, apart from the run trained
    here, whose history and evaluation they must not replace.
    """
    trained_here = weights.parent == paths.run_dir(cfg.model)
    run_dir = paths.run_dir(cfg.model) / ("" if trained_here else "given")
    outputs = [run_dir / "eval.npz", run_dir / "history.json"]
    stage = Stage(f"evaluate {cfg.model}", run_dir / ".keys" / "evaluate.json", outputs)
    precision = run_precision(args)
    config = {"data": to_dict(cfg.data), "synthetic": args.synthetic, "precision": precision}
    key = Key.of(config, [weights], code_paths("evaluate"))

    def work():
        from pipeline.evaluate import evaluate_weights

        evaluate_weights(
            cfg, weights, data_folder(args), run_dir, device_name=args.device, precision=precision
        )

    stage.run(key, work, log)
    return RunFiles(*outputs, source="trained" if trained_here else "checkpoint")


def interrupted(paths: Paths, model: str) -> bool:
    """Whether a training of this model was interrupted (its staging folder holds a key)."""
    return (paths.run_dir(model) / ".training" / "key.json").exists()


def uses_frozen(model: str, args, paths: Paths) -> bool:
    """Frozen results, when nothing else was asked and no run of this machine is newer or unfinished."""
    run_dir, frozen = paths.run_dir(model), paths.frozen_dir(model)
    if getattr(args, f"checkpoint_{model}") is not None or args.retrain:
        return False
    if (run_dir / "checkpoint.pt").exists() or interrupted(paths, model):
        return False
    if not frozen_complete(frozen) and frozen.exists():
        raise ConfigError(
            f"{shown(frozen)} is incomplete (eval.npz and history.json are needed): "
            f"restore it with git checkout -- {shown(frozen)}"
        )
    return frozen_complete(frozen)


def check_external_weights(args) -> None:
    """Every --checkpoint-* is a loadable weights file, checked for both models before any work."""
    for model in MODELS:
        external = getattr(args, f"checkpoint_{model}")
        if external is None:
            continue
        path = Path(external)
        if path.is_dir():
            raise ConfigError(f"--checkpoint-{model} {external} is a folder: give the weights file inside it")
        if not path.is_file():
            raise ConfigError(f"--checkpoint-{model} {external}: no such file")
        from pipeline.checkpoint import load_weights_file
        from pipeline.model import build_model

        load_weights_file(path, build_model(), expect=run_config(args.profile, model))


def obtain_run(model: str, args, paths: Paths) -> RunFiles:
    """Frozen results when there is no newer run and nothing else was asked; otherwise train/load and evaluate."""
    cfg = run_config(args.profile, model)
    external = getattr(args, f"checkpoint_{model}")
    if uses_frozen(model, args, paths):
        frozen = paths.frozen_dir(model)
        ignored = [o for o, on in (("--device", args.device), ("--synthetic", args.synthetic)) if on]
        note = f" ({' and '.join(ignored)} not used: nothing is trained or evaluated)" if ignored else ""
        log(f"{'load ' + model:<22} frozen results: {shown(frozen)}{note}")
        return RunFiles(frozen / "eval.npz", frozen / "history.json", source="frozen")
    if interrupted(paths, model) and not args.retrain and external is None:
        log(f"{'resume ' + model:<22} an interrupted training in {shown(paths.run_dir(model) / '.training')}")
    runs = ensure_writable(paths.run_dir(model).parent)
    with folder_lock(
        runs, log
    ):  # builds into other --out folders share runs/<profile>/: one trains at a time
        weights = Path(external) if external else train_stage(cfg, args, paths)
        return evaluate_stage(cfg, weights, args, paths)


# ----------------------------------------------------------------------------- analyse, check, draw, render


def analyse_files(runs: dict[str, RunFiles], cfg: AnalysisConfig, profile: str) -> dict:
    """Read both runs' files and analyse them; the inputs' digests travel with the results."""
    from pipeline.analysis import analyse
    from pipeline.evalfile import check_comparable, load_eval
    from pipeline.historyfile import load_history

    evals = {m: load_eval(r.eval) for m, r in runs.items()}
    check_comparable(evals, {m: r.eval for m, r in runs.items()})
    history = {m: load_history(r.history) for m, r in runs.items()}
    milestones = list(run_config(profile, "baseline").train.milestones)
    results = analyse(evals["baseline"], evals["cutmix"], history, cfg, profile, milestones)
    results["inputs"] = {
        m: {"eval": file_digest(r.eval), "history": file_digest(r.history)} for m, r in runs.items()
    }
    results["sources"] = {m: r.source for m, r in runs.items()}
    results["files"] = {m: {"eval": shown(r.eval), "history": shown(r.history)} for m, r in runs.items()}
    return results


def analysis_config() -> AnalysisConfig:
    """The study's analysis settings, with the failure cases listed in assets/cases.yaml."""
    from report.cases import load_case_ids

    return replace(AnalysisConfig(), case_ids=load_case_ids(CASES))


def analyse_stage(runs: dict[str, RunFiles], paths: Paths) -> None:
    """Seed §4–§8 and beyond: every number, table and claim, into results.json."""
    cfg = analysis_config()
    inputs = [p for r in runs.values() for p in (r.eval, r.history)]
    key = Key.of({"analysis": to_dict(cfg), "profile": paths.profile}, inputs, code_paths("analyse"))

    def work():
        write_json(paths.results, analyse_files(runs, cfg, paths.profile))

    Stage("analyse", paths.key("analyse"), [paths.results]).run(key, work, log)


def check_stage(paths: Paths) -> None:
    """The published numbers (report/claims.yaml) against this build, for the appendix."""
    key = Key.of({}, [paths.results, CLAIMS], code_paths("check"))

    def work():
        from report.claims import check_published, load_claims, load_results

        write_json(paths.checks, check_published(load_results(paths.results), load_claims(CLAIMS)))

    Stage("check", paths.key("check"), [paths.checks]).run(key, work, log)


def figures_stage(runs: dict[str, RunFiles], paths: Paths) -> tuple[Figures, Key]:
    """Figures 1–8 of the study and those beyond it, as SVG, and the key they are drawn under.

    Drawn in worker processes while the check and render stages begin: WeasyPrint takes each
    figure when it reaches it, and the figures are saved (and this stage recorded) once all are in.
    """
    folder = paths.out / "figures"
    inputs = [paths.results] + [r.eval for r in runs.values()]
    key = Key.of({}, inputs, code_paths("figures"))
    started = Stage("figures", paths.key("figures"), [folder]).begin(key, log)
    if started is None:
        from report.publish import FigureFolder

        return FigureFolder(folder), key

    from pipeline.evalfile import load_eval
    from report.claims import load_results
    from report.drawing import Drawing

    def save(svgs: dict[str, str]) -> None:
        def write():
            with atomic_dir(folder) as tmp:
                for name, svg in svgs.items():
                    (tmp / f"{name}.svg").write_text(svg, encoding="utf-8")

        started.finish(write)

    evals = {m: load_eval(r.eval) for m, r in runs.items()}
    return Drawing(load_results(paths.results), evals, on_complete=save), key


def render_stage(paths: Paths, figures: Figures, figures_key: Key, pdf: bool) -> None:
    """The PDF and, from the same HTML with screen CSS, the HTML site.

    Keyed by the figures' key rather than by their files: equal keys draw equal SVG, and the
    key is known before the figures are.
    """
    site, report_pdf = paths.out / "site", paths.out / "report.pdf"
    config = {"pdf": pdf, "figures": figures_key.__dict__}
    key = Key.of(config, [paths.results, paths.checks], code_paths("render"))

    def work():
        from report.publish import publish

        publish(paths.results, paths.checks, figures, site, report_pdf if pdf else None, CASES)

    Stage("render", paths.key("render"), [site / "index.html"] + ([report_pdf] if pdf else [])).run(
        key, work, log
    )


def build(args) -> None:
    paths = output_paths(args)
    claim_folder(paths.out, args.profile, adopt=not args.out)
    ensure_writable(paths.out / ".keys")  # before any output is replaced, not after
    with folder_lock(paths.out, log):
        clean_leftovers(paths.out, OUTPUT_NAMES)  # what a killed build left beside its outputs
        clean_leftovers(paths.out / ".keys", [f"{stage}.json" for stage in CODE])
        build_report(args, paths)


def build_report(args, paths: Paths) -> None:
    check_external_weights(args)  # both given weights files, before any evaluation
    runs = {model: obtain_run(model, args, paths) for model in MODELS}  # §3 baseline, §6 CutMix
    analyse_stage(runs, paths)  # §4 failures, §7 head-to-head, §8 lessons, and beyond
    figures, figures_key = figures_stage(runs, paths)  # Figures 1–8 and beyond, drawn meanwhile
    try:
        check_stage(paths)  # the study's stated numbers against ours
        render_stage(paths, figures, figures_key, pdf=not args.no_pdf)  # the PDF and the site
        figures.all()  # every figure drawn and saved, also when the render stage had nothing to do
    finally:
        figures.close()  # workers still drawing (after an error) are stopped
    log(
        f"{'done':<22} {paths.out / 'site' / 'index.html'}"
        + ("" if args.no_pdf else f" and {paths.out / 'report.pdf'}")
    )


# ----------------------------------------------------------------------------- freeze and check


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

    path = FROZEN / profile / "results.json"
    return load_results(path) if path.exists() else None


def used_files(results: dict, paths: Paths) -> dict[str, dict[str, Path]]:
    """{model: {"eval", "history"}} the build read, verified unchanged since by their digests."""
    files = results.get("files")
    if not isinstance(files, dict) or set(files) != set(MODELS):
        raise ConfigError(
            f"{paths.results} does not say which files it used (an older build): build again, then freeze"
        )
    try:
        out = {m: {kind: ROOT / str(files[m][kind]) for kind in ("eval", "history")} for m in MODELS}
        digests = {m: {kind: results["inputs"][m][kind] for kind in ("eval", "history")} for m in MODELS}
    except (KeyError, TypeError):
        raise ConfigError(
            f"{paths.results} does not say which files it used, or their digests: build again, then freeze"
        ) from None
    for model in MODELS:
        for kind, path in out[model].items():
            if not path.is_file() or file_digest(path) != digests[model][kind]:
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


def freeze(args) -> None:
    """Freeze exactly what the last build of the profile used: its inputs and its numbers."""
    paths, results = last_build(args)
    freeze_into(args, used_files(results, paths), results)


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
) -> None:
    """Write files ({model: {"eval", "history"}}) and their numbers into report/frozen/<profile>/.

    Shows which claims move against the numbers frozen now, then writes the folder atomically.
    Refuses when the frozen results would change in kind (trained <-> given weights) without
    --replace, and a file that changes while it is copied. `extra` ({relative path: bytes}) is
    written beside them (a GPU job's log).
    """
    from pipeline.evalfile import load_eval, provenance_of
    from report.gate import moved_claims

    target, old = FROZEN / args.profile, frozen_results(args.profile)
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
    with folder_lock(ensure_writable(FROZEN), log):  # one freeze at a time: the clean-up takes no live folder
        clean_leftovers(FROZEN, [args.profile])  # what a killed freeze left
        written = kept_files(target, old, results) | (extra or {})
        with atomic_dir(target, elsewhere="") as tmp:  # report/frozen/ has no other place
            for model in MODELS:
                (tmp / model).mkdir()
                shutil.copy2(files[model]["eval"], tmp / model / "eval.npz")
                shutil.copy2(files[model]["history"], tmp / model / "history.json")
                for kind, name in (("eval", "eval.npz"), ("history", "history.json")):
                    if file_digest(tmp / model / name) != results["inputs"][model][kind]:  # changed meanwhile
                        raise ConfigError(
                            f"{shown(files[model][kind])} changed while it was frozen: freeze again"
                        )
                write_json(
                    tmp / model / "provenance.json", provenance_of(load_eval(tmp / model / "eval.npz"))
                )
            write_json(
                tmp / "results.json", {**results, "files": frozen_files(target), "sources": FROZEN_SOURCES}
            )
            for name, data in written.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(data)
    log(f"froze {origin} into {shown(target)}" + (f"; {len(moved)} claims moved" if old is not None else ""))


# ----------------------------------------------------------------------------- the GPU job


def bundle(args) -> None:
    """The profile's portable GPU job: code, the dataset packed in two parts, the driver (gpu/README.md)."""
    from pipeline.bundle import FOLDERS, UPLOAD_LIMIT, tracked_bytes, write_bundle
    from pipeline.provenance import git_state

    dest = Path(args.out) if args.out else ROOT / "out" / f"job-{args.profile}"
    claim_folder(dest, f"{args.profile} job")
    with folder_lock(dest, log):
        clean_leftovers(dest, FOLDERS)
        info = write_bundle(args.profile, data_folder(args), dest, git_state(), log)
    code = sum(p.stat().st_size for p in (dest / "job").rglob("*") if p.is_file())
    tree = tracked_bytes(ROOT)
    log(f"bundled {args.profile} into {shown(dest)}: job/ {code / 2**20:.1f} MiB")
    for number, part in enumerate(info["parts"], 1):
        upload = code + part["bytes"] + (tree or 0)
        log(
            f"  job {number}: cd {shown(dest / 'job')} && python3 run.py"
            + (" --part-only 1" if number == 1 else " --time-limit 570")
            + f"   uploads job/ and part{number}/ ({part['bytes'] / 2**20:.1f} MiB)"
            + (f", {upload / 2**20:.1f} MiB with the project's files" if tree is not None else "")
        )
        if upload > UPLOAD_LIMIT:
            log(f"  warning: over a GPU slot's {UPLOAD_LIMIT / 2**20:.0f}-MiB upload: see gpu/README.md")


def import_archives(args) -> None:
    """Verify the results archives of GPU jobs (gpu/run.py) and freeze them, as freeze does."""
    from pipeline.jobimport import extract_runs, verified_archives

    archives = verified_archives([Path(t) for t in args.targets], args.profile)
    staging = ensure_writable(RUNS / args.profile)
    with folder_lock(staging, log):  # runs/<profile>/: one import or training at a time
        clean_leftovers(staging, ["import"])  # what a killed import left
        with scratch_dir(staging, "import", elsewhere="") as tmp:
            files, extra = extract_runs(archives, tmp, args.profile)
            runs = {m: RunFiles(f["eval"], f["history"], source="imported") for m, f in files.items()}
            results = analyse_files(runs, analysis_config(), args.profile)
            origin = " and ".join(f"{'/'.join(a.models)} from {a.path}" for a in archives)
            freeze_into(args, files, results, extra, origin)


def serve(args) -> None:
    """Live preview: build, serve the site on 127.0.0.1, rebuild (only the stages whose keys changed)
    and reload open pages whenever the templates, assets, report code or frozen results change.

    Each build runs in a fresh process, so that a change to report/ code is picked up; its log is
    shown here, and a failed build shows its error in the page and here, and the server goes on.
    """
    import subprocess

    from report.preview import Preview

    paths = output_paths(args)
    command = [sys.executable, str(ROOT / "build.py"), "--profile", args.profile, "--out", str(paths.out)]
    # "Ctrl-C stops" must hold even when serve was started with SIGINT ignored (a job started with
    # `&` by a non-interactive shell, and everything it runs, inherits that; Python then installs
    # no KeyboardInterrupt handler): serve ignored Ctrl-C in a test suite started that way.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def rebuild() -> str | None:
        done = subprocess.run(command, capture_output=True, text=True)
        print(done.stdout, end="", flush=True)
        if done.returncode == 0:
            return None
        print(done.stderr, end="", file=sys.stderr, flush=True)
        return done.stderr.strip() or f"the build exited with {done.returncode}"

    watched = [ROOT / "templates", ROOT / "assets", ROOT / "report"]
    Preview(paths.out / "site", rebuild, args.port).run([p for p in watched if p.exists()], log)


def gate_context(args, against: str) -> dict:
    return {"profile": args.profile, "against": against}


def report_checks(rows: list[dict], args, against: str) -> int:
    """Print the rows (terminal or JSON), write the JUnit and Markdown files asked for; the exit status."""
    from pipeline.outputfile import write_output_file
    from report.gate_output import (
        annotations,
        as_json,
        exit_status,
        in_github_actions,
        junit,
        markdown,
        terminal,
    )

    title = f"claim check: {args.profile} against {against}"
    print(as_json(rows, gate_context(args, against)) if args.json else terminal(rows, verbose=args.verbose))
    if args.junit:
        write_output_file(Path(args.junit), junit(rows, title), "--junit")
    if args.markdown:
        write_output_file(Path(args.markdown), markdown(rows, title), "--markdown")
    if in_github_actions():
        frozen = FROZEN / args.profile / "results.json"
        for line in annotations(rows, [CLAIMS, frozen], ROOT):
            print(line)
    return exit_status(rows)


def check(args) -> int:
    """The claims against the published numbers or the frozen numbers; the exit status of report_checks."""
    from report.claims import check_published, load_claims
    from report.gate import check_against_frozen, load_tolerances

    paths, results = last_build(args)
    claims = load_claims(CLAIMS)
    if args.against == "frozen":
        frozen = frozen_results(args.profile)
        if frozen is None:
            raise ConfigError(
                f"no frozen numbers for profile {args.profile} ({shown(FROZEN / args.profile / 'results.json')}): "
                f"python build.py freeze --profile {args.profile}"
            )
        tolerances = load_tolerances(FROZEN / args.profile / "tolerances.json")
        rows = check_against_frozen(results, frozen, claims, tolerances)
        return report_checks(rows, args, f"frozen ({shown(FROZEN / args.profile)})")
    return report_checks(check_published(results, claims), args, "the study's published numbers")


def results_at(rev: str, profile: str) -> tuple[dict, dict | None]:
    """The frozen results (and tolerances) of a profile at a git revision."""
    from pipeline.jsonfile import parse_json
    from pipeline.revision import commit_of, file_at
    from report.claims import validate_results
    from report.gate import validate_tolerances

    commit, where = commit_of(ROOT, rev), f"report/frozen/{profile}/ at {rev}"

    def parsed(name: str):
        raw = file_at(ROOT, commit, f"report/frozen/{profile}/{name}")
        try:
            return None if raw is None else parse_json(raw)
        except ValueError as exc:  # JSONInputError, or UnicodeDecodeError for bytes that are not UTF-8
            raise ConfigError(
                f"{where}: {name} is not readable JSON ({exc}): name another revision"
            ) from None

    results, tolerances = parsed("results.json"), parsed("tolerances.json")
    if results is None:
        raise ConfigError(
            f"no frozen numbers of profile {profile} at revision {rev!r}: name a revision that has them"
        )
    return validate_results(results, where), (validate_tolerances(tolerances, where) if tolerances else None)


def diff(args) -> int:
    """This build (or NEW_OUT) against the frozen numbers at a revision (or OLD_OUT), as check does."""
    from report.claims import load_claims, load_results
    from report.gate import check_against_frozen

    targets = args.targets
    if len(targets) == 2:
        old_dir, new_dir = (Path(t) for t in targets)
        for d in (old_dir, new_dir):
            if not (d / "results.json").is_file():
                raise ConfigError(f"{d} holds no results.json: give two output folders of build.py")
        old, tolerances = load_results(old_dir / "results.json"), None
        current, against = load_results(new_dir / "results.json"), str(old_dir)
    elif len(targets) <= 1:
        rev = targets[0] if targets else "HEAD"
        old, tolerances = results_at(rev, args.profile)
        current, against = last_build(args)[1], f"frozen at {rev}"
    else:
        raise ConfigError(
            "diff takes a revision, or two output folders: python build.py diff [REV | OLD NEW]"
        )
    return report_checks(check_against_frozen(current, old, load_claims(CLAIMS), tolerances), args, against)


# ----------------------------------------------------------------------------- command line


class Terminated(BaseException):
    """SIGTERM, raised where the program is, like KeyboardInterrupt for Ctrl-C (not an Exception,
    so that no handler of errors swallows it); every output is written atomically, so none is torn."""


def _on_sigterm(signum, frame):
    raise Terminated()


# Every command: 0 done, 2 a usage, input or setup error (one line on stderr); check and diff
# also 1, a claim failed or is missing, which CI must tell apart from a broken set-up.
INPUT_ERROR = 2


def reader_gone() -> int:
    """The reader of our output went away (`build.py | head -1`): stop quietly with the status of a
    tool killed by SIGPIPE. Both streams go to /dev/null first, or the interpreter's flush at exit
    fails on the closed pipe again (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())
    return 128 + signal.SIGPIPE


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"build.py: error: {message} (see python build.py --help)", file=sys.stderr)
        sys.exit(INPUT_ERROR)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "command",
        nargs="?",
        default="build",
        choices=["build", "freeze", "check", "diff", "serve", "bundle", "import"],
        help="build the report (default), freeze what it used, check the claims, diff against a revision, "
        "serve a live preview, bundle the GPU job, or import what it returned",
    )
    p.add_argument(
        "targets",
        nargs="*",
        help="diff: a git revision (default HEAD), or two output folders; import: the results archives",
    )
    p.add_argument(
        "--profile", default="paper", help=f"which settings: {' or '.join(PROFILES)} (default paper)"
    )
    p.add_argument(
        "--retrain",
        action="store_true",
        help="train both models from scratch instead of using frozen or earlier results",
    )
    p.add_argument(
        "--checkpoint-baseline", metavar="PATH", help="evaluate these baseline weights instead of training"
    )
    p.add_argument(
        "--checkpoint-cutmix", metavar="PATH", help="evaluate these CutMix weights instead of training"
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding cifar-100-python (default $CIFAR100_DIR, else data/)",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="use generated stand-in data (no dataset, no network); the report says so",
    )
    p.add_argument("--device", help="cuda, cuda:1 or cpu (default: cuda when available)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="arithmetic of training and evaluation: auto (default) is bf16 on CUDA and on CPUs with AMX, else fp32",
    )
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default out/<profile>; bundle: out/job-<profile>)"
    )
    p.add_argument("--no-pdf", action="store_true", help="build the site only")
    p.add_argument(
        "--against",
        default="published",
        choices=["published", "frozen"],
        help="check: compare with the study's numbers (claims.yaml) or with the frozen results",
    )
    p.add_argument("--json", action="store_true", help="check, diff: print strict JSON instead of the table")
    p.add_argument("--verbose", action="store_true", help="check, diff: list the passing claims too")
    p.add_argument(
        "--junit", metavar="FILE", help="check, diff: also write JUnit XML, one testcase per claim"
    )
    p.add_argument("--markdown", metavar="FILE", help="check, diff: also write a Markdown summary")
    p.add_argument(
        "--dry-run", action="store_true", help="freeze, import: show what would move, write nothing"
    )
    p.add_argument("--port", type=int, default=8000, help="serve: the port on 127.0.0.1 (0: any free one)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="freeze, import: allow replacing frozen results of another kind",
    )
    # intermixed: options and the positionals in any order (`diff --profile smoke HEAD~1`)
    args = p.parse_intermixed_args(argv)
    for option in ("junit", "markdown", "out", "data_dir", "checkpoint_baseline", "checkpoint_cutmix"):
        if getattr(args, option) == "":
            p.error(f"--{option.replace('_', '-')} needs a path, got an empty one")
    if args.targets and args.command not in ("diff", "import"):
        p.error(f"unexpected argument {args.targets[0]!r}: only diff and import take arguments")
    if args.command == "import" and not args.targets:
        p.error(
            "import needs the results archive(s) a GPU job returned: python build.py import results-paper.tar"
        )
    if args.profile not in PROFILES:
        p.error(f"unknown profile {args.profile!r}: use one of {', '.join(PROFILES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.command == "freeze":
            freeze(args)
            return 0
        if args.command == "check":
            return check(args)
        if args.command == "diff":
            return diff(args)
        if args.command == "serve":
            serve(args)
            return 0
        if args.command == "bundle":
            bundle(args)
            return 0
        if args.command == "import":
            import_archives(args)
            return 0
        build(args)
        return 0
    except StudyError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return INPUT_ERROR
    except KeyboardInterrupt:
        print("build.py: interrupted; earlier outputs are intact", file=sys.stderr)
        return 130
    except Terminated:
        print("build.py: terminated (SIGTERM); earlier outputs are intact", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        return reader_gone()
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    code = main()
    # A build leaves about a million objects behind (WeasyPrint's boxes): the garbage collector's
    # last pass over them at exit took 0.15-0.25 s (2026-11-29). Frozen objects are skipped;
    # the memory goes back with the process anyway.
    gc.freeze()
    sys.exit(code)
