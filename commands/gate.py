"""check and diff, the regression gate: this build's claims against the study's published numbers,
the frozen numbers, the frozen numbers at a git revision, or another build.

Exit status: 0 every claim passes, 1 a claim failed or is missing (commands/exits.py: 2 is a
usage or setup error).
"""

from __future__ import annotations

from pathlib import Path

from commands import workspace
from commands.freeze import frozen_results, last_build
from commands.workspace import shown
from pipeline.config import ConfigError


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
        frozen = workspace.FROZEN / args.profile / "results.json"
        for line in annotations(rows, [workspace.CLAIMS, frozen], workspace.ROOT):
            print(line)
    return exit_status(rows)


def check(args) -> int:
    """The claims against the published numbers or the frozen numbers; the exit status of report_checks."""
    from report.claims import check_published, load_claims
    from report.gate import check_against_frozen, load_tolerances

    paths, results = last_build(args)
    claims = load_claims(workspace.CLAIMS)
    if args.against == "frozen":
        frozen = frozen_results(args.profile)
        if frozen is None:
            raise ConfigError(
                f"no frozen numbers for profile {args.profile} ({shown(workspace.FROZEN / args.profile / 'results.json')}): "
                f"python build.py freeze --profile {args.profile}"
            )
        tolerances = load_tolerances(workspace.FROZEN / args.profile / "tolerances.json")
        rows = check_against_frozen(results, frozen, claims, tolerances)
        return report_checks(rows, args, f"frozen ({shown(workspace.FROZEN / args.profile)})")
    return report_checks(check_published(results, claims), args, "the study's published numbers")


def results_at(rev: str, profile: str) -> tuple[dict, dict | None]:
    """The frozen results (and tolerances) of a profile at a git revision."""
    from pipeline.jsonfile import parse_json
    from pipeline.revision import commit_of, file_at
    from report.claims import validate_results
    from report.gate import validate_tolerances

    commit, where = commit_of(workspace.ROOT, rev), f"report/frozen/{profile}/ at {rev}"

    def parsed(name: str):
        raw = file_at(workspace.ROOT, commit, f"report/frozen/{profile}/{name}")
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
    return report_checks(
        check_against_frozen(current, old, load_claims(workspace.CLAIMS), tolerances), args, against
    )
