"""Reading the project's YAML inputs (assets/cases.yaml, report/claims.yaml) strictly: UTF-8 only,
no duplicate keys, and integer keys only as plain decimals.

PyYAML's safe_load keeps the last of two equal keys without a word (the first entry's text is lost)
and reads 017 as octal 15 and 0x1F as 31 (YAML 1.1): a hand edit that does either would silently
change which test image a case names. Here each is an error naming the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.errors import StudyError

DECIMAL = re.compile(r"-?[0-9]+")


class _StrictLoader(yaml.SafeLoader):
    """safe_load's loader, refusing duplicate keys and non-decimal integer keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
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
