"""Stage caching: a stage runs only when its key changes.

A key hashes three things: the config fields the stage depends on, the content of its input
files, and its code. Python code is hashed by its syntax tree without docstrings, so a comment or
a reformat does not retrain a model. The key's three parts are stored beside the outputs, so the
log can say *why* a stage ran. Imports nothing heavy: a no-op rebuild only reads keys.
"""

from __future__ import annotations

import ast
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.files import write_json
from pipeline.jsonfile import parse_json
from pipeline.project import ROOT


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_digest(path: Path) -> str:
    """Digest of a source file: Python by its syntax tree without docstrings, anything else by bytes."""
    data = Path(path).read_bytes()
    if Path(path).suffix == ".py":
        try:
            return _sha(ast.dump(_strip_docstrings(ast.parse(data))).encode())
        except SyntaxError:
            pass
    return _sha(data)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Files, and the files inside folders, in a stable order."""
    out = []
    for p in map(Path, paths):
        out += sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    return out


KEY_FIELDS = ("config", "inputs", "code")


def outputs_digest(outputs: Iterable[Path]) -> str:
    """One digest of a stage's output files (folders: every file in them), as they are now."""
    return _sha(
        "\n".join(f"{p}:{file_digest(p)}" for p in _expand(o for o in outputs if Path(o).exists())).encode()
    )


@dataclass(frozen=True)
class Key:
    config: str
    inputs: str
    code: str

    @classmethod
    def of(cls, config: dict, inputs: Iterable[Path], code: Iterable[Path]) -> Key:
        config_text = json.dumps(config, sort_keys=True, default=str)
        input_parts = [f"{p.name}:{file_digest(p)}" for p in _expand(inputs)]
        code_parts = [
            f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}:{code_digest(p)}" for p in _expand(code)
        ]
        return cls(
            _sha(config_text.encode()),
            _sha("\n".join(input_parts).encode()),
            _sha("\n".join(code_parts).encode()),
        )

    def why_different(self, old: dict | None) -> str:
        if old is None:
            return "no previous output"
        changed = [name for name in KEY_FIELDS if old.get(name) != getattr(self, name)]
        return (" and ".join(changed) + " changed") if changed else "outputs missing or changed since"


@dataclass
class Stage:
    """One step of the flow: its name, the file recording its key, and the outputs it must leave."""

    name: str
    key_file: Path
    outputs: list[Path]

    def stored(self) -> dict | None:
        """The recorded key, or None when there is none or it is not one (a hand edit, a torn file)."""
        try:
            old = parse_json(self.key_file.read_bytes())
        except (OSError, ValueError):
            return None
        return old if isinstance(old, dict) else None

    def is_current(self, key: Key) -> bool:
        """The key is the recorded one, and the outputs are there as the stage left them.

        The outputs' digest is recorded with the key, so a hand edit of an output (a results.json,
        a figure, the site) makes the stage run again and write it anew, rather than feeding the
        edit to the stages after it.
        """
        old = self.stored()
        if old is None or {k: old.get(k) for k in KEY_FIELDS} != key.__dict__:
            return False
        return all(p.exists() for p in self.outputs) and old.get("outputs") == outputs_digest(self.outputs)

    def begin(self, key: Key, log: Callable[[str], None] = print, force: bool = False) -> Started | None:
        """None, and a "skipped" line, when the key is unchanged (and not forced); else the run,
        begun now, that `Started.finish` records once its outputs are written."""
        start = time.perf_counter()
        current = self.is_current(key)
        if current and not force:
            log(f"{self.name:<22} skipped: inputs unchanged ({time.perf_counter() - start:.2f} s)")
            return None
        reason = "asked for" if current else key.why_different(self.stored())
        return Started(self, key, reason, start, log)

    def run(
        self, key: Key, work: Callable[[], object], log: Callable[[str], None] = print, force: bool = False
    ) -> bool:
        """Run `work` unless the key is unchanged (or force); record the key only after it succeeded.

        Outputs are written atomically, so a failed or interrupted `work` leaves the old outputs
        and the old key together, still consistent.
        """
        started = self.begin(key, log, force)
        if started is None:
            return False
        started.finish(work)
        return True


@dataclass
class Started:
    """A stage that runs: its work may go on while later stages begin (the figures' does)."""

    stage: Stage
    key: Key
    reason: str
    start: float
    log: Callable[[str], None]

    def finish(self, work: Callable[[], object] = lambda: None) -> None:
        """Do what is left of the work (write the outputs), then record the key and say so."""
        work()
        write_json(self.stage.key_file, {**self.key.__dict__, "outputs": outputs_digest(self.stage.outputs)})
        self.log(f"{self.stage.name:<22} ran: {self.reason} ({time.perf_counter() - self.start:.1f} s)")
