"""eval.npz is read within bounds and checked where it enters: a header numpy cannot parse, a member
that expands beyond its shape, a member the layout does not have, IDs that are not test IDs and
evaluations too small to analyse are each one line; two models' evaluations of different images are
refused naming both files. Every committed evaluation still loads."""

from __future__ import annotations

import io
import json
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.evalfile import (
    EVAL_LAYOUT,
    LARGEST_SHAPE,
    MAX_EVAL_BYTES,
    EvalFileError,
    check_comparable,
    load_eval,
    save_eval,
)
from pipeline.npzfile import NpzInputError

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "report" / "frozen" / "smoke"
MiB = 2**20


def frozen_arrays(model: str = "baseline") -> dict[str, np.ndarray]:
    return load_eval(FROZEN / model / "eval.npz")


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(header: bytes, data: bytes = b"") -> bytes:
    """A version 1.0 .npy member with this header text, padded as numpy pads it (64-byte alignment)."""
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def members_of(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {f"{key}.npy": npy(value) for key, value in arrays.items()}


def write_npz(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(EvalFileError) as err:
        load_eval(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_the_largest_shapes_have_the_dimensions_of_the_layout():
    assert {k: len(s) for k, s in LARGEST_SHAPE.items()} == {k: ndim for k, (_, ndim) in EVAL_LAYOUT.items()}


@pytest.mark.parametrize("path", sorted((ROOT / "report" / "frozen").glob("*/*/eval.npz")), ids=str)
def test_every_committed_evaluation_loads(path):
    arrays = load_eval(path)
    assert set(arrays) == set(EVAL_LAYOUT) and arrays["test_logits"].flags.writeable


# ----------------------------------------------------------------------------- headers numpy cannot parse

UNPARSABLE_HEADERS = [
    b"{'descr': '<i8', 'fortran_order': False, 'shape': (3,",  # an unclosed bracket
    b"{'descr': '''<i8', 'fortran_order': False, 'shape': (3,)}",  # an unterminated triple quote
]


@pytest.mark.parametrize("header", UNPARSABLE_HEADERS)
def test_a_header_that_numpy_retries_with_its_tokenizer_is_one_line(tmp_path, header):
    members = members_of(frozen_arrays()) | {"test_ids.npy": npy_with_header(header, bytes(24))}
    message = refusal(write_npz(tmp_path / "eval.npz", members))
    assert "test_ids.npy has a header that is not a .npy header" in message


# ----------------------------------------------------------------------------- sizes


def deflated_with_test_ids(path: Path, write_ids) -> Path:
    """The frozen arrays as a deflated .npz at `path`, test_ids.npy written by write_ids(archive, ids)."""
    members = members_of(frozen_arrays())
    ids = members.pop("test_ids.npy")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        write_ids(archive, ids)
    return path


def refusal_and_peak_memory(path: Path) -> tuple[str, int]:
    """refusal(path), and the most memory Python allocated meanwhile, in bytes."""
    tracemalloc.start()
    try:
        return refusal(path), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_member_that_expands_beyond_every_evaluation_is_refused_without_decompressing_it(tmp_path):
    """More deflated zeros than MAX_EVAL_BYTES (a few hundred KB on disk) behind a header of 500 IDs."""

    def zeros_after(archive: zipfile.ZipFile, ids: bytes) -> None:
        with archive.open("test_ids.npy", "w", force_zip64=True) as member:
            member.write(ids)
            for _ in range(MAX_EVAL_BYTES // MiB + 8):
                member.write(bytes(MiB))

    path = deflated_with_test_ids(tmp_path / "eval.npz", zeros_after)
    assert path.stat().st_size < 2 * MiB
    message, peak = refusal_and_peak_memory(path)
    assert "expand to" in message and peak < 16 * MiB


def test_a_member_larger_than_its_header_says_is_refused(tmp_path):
    members = members_of(frozen_arrays())
    members["test_ids.npy"] += bytes(4 * MiB)
    assert "test_ids.npy declares" in refusal(write_npz(tmp_path / "eval.npz", members))


def test_a_member_that_expands_further_than_the_zip_declares_is_read_no_further(tmp_path):
    """The zip's directory gives the size the header implies; the deflate stream holds 64 MiB more."""

    def longer_than_declared(archive: zipfile.ZipFile, ids: bytes) -> None:
        archive.writestr("test_ids.npy", ids + bytes(64 * MiB))
        archive.getinfo("test_ids.npy").file_size = len(ids)  # written into the directory on close

    path = deflated_with_test_ids(tmp_path / "eval.npz", longer_than_declared)
    message, peak = refusal_and_peak_memory(path)
    assert "truncated or corrupt" in message and peak < 16 * MiB


def test_a_header_declaring_more_rows_than_the_test_set_is_refused_before_allocating(tmp_path):
    header = b"{'descr': '<i8', 'fortran_order': False, 'shape': (1099511627776,), }"
    members = members_of(frozen_arrays()) | {"test_ids.npy": npy_with_header(header, bytes(8))}
    message = refusal(write_npz(tmp_path / "eval.npz", members))
    assert "test_ids has shape (1099511627776,), beyond the largest it may have, (10000,)" in message


def test_a_dtype_wider_than_the_layout_allows_is_refused(tmp_path):
    arrays = frozen_arrays() | {"class_names": np.asarray(["x" * 100] * 100)}
    assert "class_names has dtype <U100" in refusal(write_npz(tmp_path / "eval.npz", members_of(arrays)))


# ----------------------------------------------------------------------------- members


def test_a_member_the_layout_does_not_have_is_refused(tmp_path):
    members = members_of(frozen_arrays()) | {"payload.npy": npy(np.zeros(3))}
    assert "holds 'payload.npy', which is not one of its arrays" in refusal(
        write_npz(tmp_path / "eval.npz", members)
    )


def test_a_member_held_twice_is_refused(tmp_path):
    path = write_npz(tmp_path / "eval.npz", members_of(frozen_arrays()))
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it is asked to write
        archive.writestr("test_ids.npy", npy(frozen_arrays()["test_ids"]))
    assert "holds test_ids.npy twice" in refusal(path)


def test_a_member_compressed_with_another_method_is_refused(tmp_path):
    path = write_npz(tmp_path / "eval.npz", members_of(frozen_arrays()), method=zipfile.ZIP_BZIP2)
    assert "compressed with method 12" in refusal(path)


def test_an_npz_input_error_is_a_value_error_with_a_reason():
    assert issubclass(NpzInputError, ValueError)


# ----------------------------------------------------------------------------- evaluations too odd to analyse


def _set(key: str, index, value):
    return lambda a: a[key].__setitem__(index, value)


def _rows(n: int):
    def cut(a):
        for key in ("test_ids", "test_logits", "test_labels", "test_coarse", "cam_pred", "cam_true"):
            a[key] = a[key][:n]
        a["shown_ids"], a["shown_images"] = a["shown_ids"][:0], a["shown_images"][:0]

    return cut


def _not_a_test_id(a):
    a["shown_ids"][0] = np.setdiff1d(np.arange(10_000), a["test_ids"])[0]


def _swap_first_ids(a):
    a["test_ids"][[0, 1]] = a["test_ids"][[1, 0]]


def _no_val(a):
    a["val_logits"], a["val_labels"] = a["val_logits"][:0], a["val_labels"][:0]


def _empty_maps(a):
    a["cam_pred"] = a["cam_true"] = np.zeros((len(a["test_ids"]), 0, 0), np.float32)


def _shown_twice(a):
    a["shown_ids"][1] = a["shown_ids"][0]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_set("test_ids", 1, 45), "test_ids repeats 45"),  # the first ID of the frozen file is 45
        (_set("test_ids", 0, -3), "test_ids holds -3, not a CIFAR-100 test ID (0-9999)"),
        (_set("test_ids", -1, 10_000), "test_ids holds 10000"),
        (_swap_first_ids, "test_ids are not increasing"),
        (_not_a_test_id, "is not among test_ids"),
        (_shown_twice, "shown_ids repeats"),
        (_no_val, "no val rows"),
        (_empty_maps, "Grad-CAM maps are 0x0"),
        (_rows(1), "at least 2 test rows needed"),
        (_rows(0), "at least 2 test rows needed"),
    ],
)
def test_an_evaluation_the_analysis_cannot_use_is_one_line(tmp_path, change, says):
    arrays = frozen_arrays()
    change(arrays)
    message = refusal(save_eval(tmp_path / "eval.npz", arrays))
    assert says in message and "evaluate stage again" in message


# ----------------------------------------------------------------------------- two models


def _shift_one_id(arrays: dict[str, np.ndarray], at_least: int) -> int:
    """Move the first test ID from position `at_least` on that has a free successor to it; its position."""
    ids = arrays["test_ids"]
    i = next(i for i in range(at_least, len(ids) - 1) if ids[i] + 1 < ids[i + 1])
    ids[i] += 1
    return i


def _pair(tmp_path: Path) -> tuple[dict, dict]:
    return {"baseline": frozen_arrays("baseline"), "cutmix": frozen_arrays("cutmix")}, {
        m: tmp_path / m / "eval.npz" for m in ("baseline", "cutmix")
    }


def test_evaluations_of_different_images_are_one_line_naming_both_files_and_the_first_difference(tmp_path):
    evals, paths = _pair(tmp_path)
    i = _shift_one_id(evals["cutmix"], 17)
    old = int(evals["baseline"]["test_ids"][i])
    with pytest.raises(EvalFileError) as err:
        check_comparable(evals, paths)
    message = str(err.value)
    assert str(paths["baseline"]) in message and str(paths["cutmix"]) in message and "\n" not in message
    assert f"test_ids differ first at position {i} ({old} in baseline, {old + 1} in cutmix)" in message
    assert "evaluate again" in message


def test_frozen_evaluations_that_differ_are_restored_with_git(tmp_path):
    evals, _ = _pair(tmp_path)
    evals["cutmix"]["test_labels"] = evals["cutmix"]["test_labels"][:-1]
    paths = {m: FROZEN / m / "eval.npz" for m in evals}
    with pytest.raises(EvalFileError, match="test_labels has 500 entries in baseline, 499 in cutmix") as err:
        check_comparable(evals, paths)
    assert f"git checkout -- {paths['baseline']} {paths['cutmix']}" in str(err.value)


def test_evaluations_on_different_data_are_refused(tmp_path):
    evals, paths = _pair(tmp_path)
    prov = json.loads(str(evals["cutmix"]["provenance"])) | {"data_source": "synthetic"}
    evals["cutmix"]["provenance"] = np.asarray(json.dumps(prov))
    says = "baseline was evaluated on 'cifar-100' data, cutmix on 'synthetic'"
    with pytest.raises(EvalFileError, match=says):
        check_comparable(evals, paths)


def test_the_committed_pair_is_comparable(tmp_path):
    check_comparable(*_pair(tmp_path))


def test_the_analysis_of_two_files_of_different_test_images_is_a_study_error(tmp_path):
    """build.py's analyse stage refuses the pair where it loads it, before the analysis compares them."""
    import build

    runs = {}
    for model in ("baseline", "cutmix"):
        arrays = frozen_arrays(model)
        if model == "cutmix":
            _shift_one_id(arrays, 17)
            arrays["shown_ids"] = arrays["shown_ids"][np.isin(arrays["shown_ids"], arrays["test_ids"])]
            arrays["shown_images"] = arrays["shown_images"][: len(arrays["shown_ids"])]
        path = save_eval(tmp_path / model / "eval.npz", arrays)
        runs[model] = build.RunFiles(path, FROZEN / model / "history.json", source="run")
    with pytest.raises(EvalFileError, match="cannot be compared: test_ids differ first at position"):
        build.analyse_files(runs, build.analysis_config(), "smoke")
