"""Reading the project's YAML inputs (assets/cases.yaml, report/claims.yaml) strictly: UTF-8 only,
no duplicate keys, and integer keys only as plain decimals.

PyYAML's safe_load keeps the last of two equal keys without a word (the first entry's text is lost)
and reads 017 as octal 15 and 0x1F as 31 (YAML 1.1): a hand edit that does either would silently
change which test image a case names. Here each is an error naming the file and the line.

It also composes recursively (a few hundred `[` raise RecursionError), converts integers of any
length (past 4,300 digits a ValueError, below that an int that overflows `float()` later), hands
aliases out as shared objects (ten nested aliases of ten "billion laughs" are 10^10 values to whoever
walks them, and `&a [*a]` is a list holding itself), and gives lists as keys to the constructor,
which cannot hash them. The bounds below are those of the JSON the build reads back
(pipeline/jsonfile.py), with the aliases' expansion counted.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.errors import StudyError
from pipeline.jsonfile import MAX_DEPTH, MAX_DIGITS

DECIMAL = re.compile(r"-?[0-9]+")
MAX_VALUES = 100_000  # aliases expanded; report/claims.yaml, the largest file, holds about 700


def _refusal(mark: yaml.Mark, problem: str) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, f"line {mark.line + 1}: {problem}", mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


class _StrictLoader(yaml.SafeLoader):
    """safe_load's loader, refusing duplicate keys, non-decimal integer keys, keys that are lists or
    mappings, long integers, deep nesting and aliases that expand beyond MAX_VALUES or to themselves."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._extent: dict[yaml.Node, tuple[int, int]] = {}  # node: (values, depth) once expanded

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node not in self._extent:  # still being composed: the alias is inside its own anchor
                raise _refusal(mark, "an alias refers to the value that holds it")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refusal(mark, f"nested deeper than {MAX_DEPTH} levels")
        node = super().compose_node(parent, index)
        self._depth -= 1
        parts = [self._extent[child] for child in _children(node)]
        values, depth = 1 + sum(n for n, _ in parts), 1 + max((d for _, d in parts), default=0)
        if values > MAX_VALUES:
            raise _refusal(mark, f"more than {MAX_VALUES:,} values, aliases expanded")
        if depth > MAX_DEPTH:
            raise _refusal(mark, f"its aliases nest deeper than {MAX_DEPTH} levels")
        self._extent[node] = (values, depth)
        return node


def _integer(loader: _StrictLoader, node: yaml.ScalarNode) -> int:
    digits = node.value.replace("_", "").lstrip("+-")
    if len(digits) > MAX_DIGITS:
        raise _refusal(node.start_mark, f"an integer of {len(digits)} digits (at most {MAX_DIGITS})")
    return loader.construct_yaml_int(node)


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise _refusal(key_node.start_mark, f"a key is a {kind}, not a text or a number")
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, int) and not isinstance(key, bool):
            text = key_node.value.replace("_", "")
            digits = text.lstrip("-")
            if not DECIMAL.fullmatch(text) or (len(digits) > 1 and digits.startswith("0")):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"line {line}: key {key_node.value!r} is not a plain decimal number",
                    key_node.start_mark,
                )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"line {line}: key {key!r} repeats the one on line {seen[key]}",
                key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _integer)


def load_yaml(path: Path, error: type[StudyError]) -> object:
    """The parsed document, or `error` with one line naming the file, the place and the fix."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except yaml.constructor.ConstructorError as exc:
        raise error(f"{path}: {exc.problem}: fix that entry") from None
    except (OSError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{path} cannot be read as YAML ({reason}): fix the file") from None
