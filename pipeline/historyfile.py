"""Reading history.json (pipeline/RESULTS.md): every field checked at the boundary, one line on error.

The epochs feed Figures 1 and 4 and the train-val gap; a NaN, a string or a missing key there would
otherwise surface as a traceback far from the file, after results.json had been rewritten.
"""

from __future__ import annotations

import math
from pathlib import Path

from pipeline.evalfile import EvalFileError, is_frozen
from pipeline.jsonfile import JSONInputError, parse_json

NUMBERS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")  # every row has these, finite


def _refuse(path: Path, why: str) -> EvalFileError:
    fix = (
        f"restore the committed file with git checkout -- {path}"
        if is_frozen(path)
        else "train again (--retrain)"
    )
    return EvalFileError(f"{path}: {why}; {fix}")


def _check_row(path: Path, i: int, row) -> dict:
    if not isinstance(row, dict):
        raise _refuse(path, f"epochs[{i}] is not an object")
    epoch = row.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch != i + 1:
        raise _refuse(path, f"epochs[{i}].epoch is {epoch!r}, expected {i + 1}")
    for key in NUMBERS:
        value = row.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise _refuse(path, f"epochs[{i}].{key} is {value!r}, not a finite number")
    return row


def load_history(path: str | Path) -> list[dict]:
    """The epoch rows of a history.json; an empty list for weights given without a history."""
    path = Path(path)
    try:
        doc = parse_json(path.read_bytes(), nonfinite=True)  # a NaN loss is named by _check_row
    except FileNotFoundError:
        raise _refuse(path, "no such file") from None
    except JSONInputError as exc:
        raise _refuse(path, f"not readable JSON ({exc})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _refuse(path, f"not readable JSON ({type(exc).__name__})") from None
    epochs = doc.get("epochs") if isinstance(doc, dict) else None
    if not isinstance(epochs, list):
        raise _refuse(path, "'epochs' is missing or not a list")
    return [_check_row(path, i, row) for i, row in enumerate(epochs)]
