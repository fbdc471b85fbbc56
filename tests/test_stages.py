"""Stage caching: keys, skips, reasons, atomic outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands import stage_code, workspace
from pipeline.files import OutputError, atomic_dir, atomic_path, ensure_writable, write_text
from pipeline.stages import KEY_FIELDS, Key, Stage, code_digest


def _stage(tmp_path):
    return Stage("demo", tmp_path / ".keys" / "demo.json", [tmp_path / "out.txt"])


def test_a_stage_runs_once_then_skips_until_an_input_changes(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    calls, lines = [], []

    def work():
        calls.append(1)
        write_text(tmp_path / "out.txt", src.read_text())

    key = Key.of({"x": 1}, [src], [])
    assert _stage(tmp_path).run(key, work, lines.append)
    assert not _stage(tmp_path).run(Key.of({"x": 1}, [src], []), work, lines.append)
    src.write_text("b")
    assert _stage(tmp_path).run(Key.of({"x": 1}, [src], []), work, lines.append)
    assert _stage(tmp_path).run(Key.of({"x": 2}, [src], []), work, lines.append)
    assert len(calls) == 3
    assert "no previous output" in lines[0] and "skipped" in lines[1]
    assert "inputs changed" in lines[2] and "config changed" in lines[3]


def _recorded(stage) -> dict | None:
    """The key a stage recorded, without its outputs' digest."""
    old = stage.stored()
    return None if old is None else {k: old[k] for k in KEY_FIELDS}


def test_missing_outputs_rerun_and_a_failed_stage_keeps_the_old_key(tmp_path):
    key = Key.of({}, [], [])
    stage = _stage(tmp_path)
    stage.run(key, lambda: write_text(tmp_path / "out.txt", "x"), print)
    (tmp_path / "out.txt").unlink()
    assert stage.run(key, lambda: write_text(tmp_path / "out.txt", "x"), print)

    def boom():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stage.run(Key.of({"new": 1}, [], []), boom, print)
    assert _recorded(stage) == key.__dict__ and (tmp_path / "out.txt").read_text() == "x"
    assert stage.run(key, boom, print, force=False) is False  # the old outputs are still current
    with pytest.raises(KeyboardInterrupt):
        stage.run(key, boom, print, force=True)


def test_a_begun_stage_is_recorded_only_when_it_finishes(tmp_path):
    """The figures stage begins, the render stage runs meanwhile, the figures finish later."""
    key, lines = Key.of({"n": 1}, [], []), []
    stage = _stage(tmp_path)
    started = stage.begin(key, lines.append)
    assert started is not None and lines == []
    assert stage.stored() is None  # not recorded before its outputs are written
    started.finish(lambda: write_text(tmp_path / "out.txt", "x"))
    assert _recorded(stage) == key.__dict__
    assert "demo" in lines[0] and "ran: no previous output" in lines[0]
    assert stage.begin(key, lines.append) is None and "skipped" in lines[1]
    assert stage.begin(key, lines.append, force=True).reason == "asked for"


def test_code_digest_ignores_comments_and_docstrings_but_not_code(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.py", "b.py", "c.py"))
    a.write_text('"""Doc."""\nx = 1  # one\n')
    b.write_text("x = 1\n\n\n# another comment\n")
    c.write_text("x = 2\n")
    assert code_digest(a) == code_digest(b) != code_digest(c)


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    site = tmp_path / "site"
    with atomic_dir(site) as d:
        (d / "index.html").write_text("v1")
    with pytest.raises(RuntimeError), atomic_dir(site) as d:
        (d / "index.html").write_text("v2")
        raise RuntimeError
    assert (site / "index.html").read_text() == "v1"


def test_unwritable_output_folder_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="choose another folder with --out"):
        ensure_writable(blocker / "out")


def test_each_stage_key_covers_the_code_its_outputs_depend_on():
    """A change to any module a stage imports (within pipeline/ and report/) must rerun it: the
    figures once missed report/filters.py, so a new number format left old labels in place.
    Training and evaluation are listed by hand on purpose: a provenance or device tweak must not
    retrain for hours."""
    import subprocess
    import sys

    for stage, entries in stage_code.STAGE_ENTRY.items():
        code = (
            "import sys\n"
            + "".join(f"import {m}\n" for m in entries)
            + "names = [n for n in sys.modules if n.startswith(('pipeline.', 'report.'))]\n"
            + "print('\\n'.join(sys.modules[n].__file__ for n in names))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=workspace.ROOT, capture_output=True, text=True, check=True
        )
        imported = {
            Path(f).resolve().relative_to(workspace.ROOT).as_posix() for f in done.stdout.splitlines()
        }
        listed = set(stage_code.CODE[stage]) | set(stage_code.SHAPES_NO_OUTPUT)
        assert imported <= listed, f"{stage}: add {sorted(imported - listed)} to commands/stage_code.py CODE"


def test_a_key_file_that_is_not_a_key_reruns_the_stage(tmp_path):
    stage = _stage(tmp_path)
    key = Key.of({}, [], [])
    stage.run(key, lambda: write_text(tmp_path / "out.txt", "x"), print)
    for text in ("[]", "7", '"key"', "\xff", "{"):
        stage.key_file.write_text(text, encoding="latin-1")
        assert stage.stored() is None and stage.run(key, lambda: write_text(tmp_path / "out.txt", "x"), print)
