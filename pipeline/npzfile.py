"""Arrays from .npz files the build did not just write: every size bounded before anything is decompressed.

np.load trusts the file: it decompresses every member it is asked for, whatever its name, and
allocates whatever shape a member's .npy header declares, so a few MB of deflated zeros can
expand to gigabytes (a zip bomb); and a header that is not a Python literal ends, through numpy's
Python 2 fallback parser, in tokenize.TokenError. Here the archive must hold exactly the expected
members; each member's header (the .npy format, numpy.lib.format) is parsed from its first bytes
and checked against the member's dtype kind and largest shape before its data is read; the data
size that header implies must be the size the zip declares, and the data is read with that bound,
so a member that expands further is refused. Anything wrong is an NpzInputError with a short
reason that the caller puts after the file's name.
"""

from __future__ import annotations

import io
import math
import os
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MAX_HEADER_CHARS = 4096  # numpy writes a header of about 120 characters, padded to 64 bytes
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # np.savez and np.savez_compressed
CHUNK = 1 << 20  # bytes per read of a member's data
# what zipfile raises for a damaged archive: a bad CRC or header, a short or invalid deflate stream,
# an offset outside the file, a version or method it does not know, a name that is not UTF-8
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


class NpzInputError(ValueError):
    """An .npz that is not the expected arrays within their bounds; the message is the reason, without the file's name."""


@dataclass(frozen=True)
class Member:
    """What one member may hold: a dtype kind, at most max_shape (its length is the number of dimensions)."""

    kind: str
    max_shape: tuple[int, ...]
    max_itemsize: int = 8  # bytes per element: float64, int64; a string of n characters takes 4n


def read_npz(path: str | os.PathLike, members: Mapping[str, Member], max_bytes: int) -> dict[str, np.ndarray]:
    """{key: array} of the .npz at `path`, which must hold exactly `<key>.npy` for every key of `members`,
    each within its bounds and all together within max_bytes uncompressed."""
    if os.path.getsize(path) > max_bytes:
        raise NpzInputError(f"it is {os.path.getsize(path):,} bytes, more than the {max_bytes:,} it may be")
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise _corrupt(exc) from None
    with archive:
        infos = _entries(archive, members, max_bytes)
        return {key: _read_member(archive, infos[key], members[key]) for key in members}


def _corrupt(exc: Exception) -> NpzInputError:
    return NpzInputError(f"truncated or corrupt ({type(exc).__name__})")


def _entries(archive: zipfile.ZipFile, members: Mapping[str, Member], max_bytes: int) -> dict:
    """{key: ZipInfo}, once the names, compression methods and declared sizes are known to be sound."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")
        if key not in members or not info.filename.endswith(".npy"):
            raise NpzInputError(f"it holds {info.filename!r}, which is not one of its arrays")
        if key in infos:
            raise NpzInputError(f"it holds {info.filename} twice")
        if info.compress_type not in COMPRESSIONS or info.flag_bits & 0x1:  # bit 0: encrypted
            raise NpzInputError(
                f"{info.filename} is encrypted or compressed with method {info.compress_type}"
            )
        infos[key] = info
    missing = [k for k in members if k not in infos]
    if missing:
        raise NpzInputError(f"incomplete, missing {', '.join(missing)}")
    total = sum(info.file_size for info in infos.values())
    if total > max_bytes:
        raise NpzInputError(f"its arrays expand to {total:,} bytes, more than the {max_bytes:,} they may")
    return infos


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: Member) -> np.ndarray:
    try:
        stream = archive.open(info)
    except ZIP_ERRORS as exc:
        raise _corrupt(exc) from None
    with stream:
        head = _read_at_most(stream, min(info.file_size, 12 + MAX_HEADER_CHARS))  # magic, length, header
        shape, fortran_order, dtype, offset = _header(info.filename, head)
        _check_header(info.filename, shape, dtype, member)
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != offset + nbytes:
            raise NpzInputError(
                f"{info.filename} declares {info.file_size:,} bytes but its header describes {offset + nbytes:,}"
            )
        data = bytearray(head[offset:])
        data += _read_at_most(stream, nbytes - len(data) + 1)  # one byte more shows a member that is longer
    if len(data) != nbytes:
        raise NpzInputError(
            f"{info.filename} holds {len(data):,} bytes of data, not the {nbytes:,} of its header"
        )
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape)) if nbytes else np.empty(0, dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_at_most(stream: io.BufferedIOBase, limit: int) -> bytearray:
    """Up to `limit` bytes of a member, fewer where it ends; never more, whatever it expands to."""
    data = bytearray()
    while len(data) < limit:
        try:
            chunk = stream.read(min(CHUNK, limit - len(data)))
        except ZIP_ERRORS as exc:
            raise _corrupt(exc) from None
        if not chunk:
            break
        data += chunk
    return data


def _header(name: str, head: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the data) from the first bytes of a .npy member."""
    stream = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError:
        raise NpzInputError(f"{name} is not a .npy array") from None
    if version not in HEADER_READERS:
        raise NpzInputError(f"{name} is .npy version {version[0]}.{version[1]}, not 1.0 or 2.0")
    try:
        shape, fortran_order, dtype = HEADER_READERS[version](stream, max_header_size=MAX_HEADER_CHARS)
    except (ValueError, SyntaxError, tokenize.TokenError, RecursionError):
        # numpy retries a header that is not a literal with a tokenizer, which raises its own errors
        raise NpzInputError(f"{name} has a header that is not a .npy header") from None
    return shape, fortran_order, dtype, stream.tell()


def _check_header(name: str, shape: tuple[int, ...], dtype: np.dtype, member: Member) -> None:
    key = name.removesuffix(".npy")
    if dtype.kind != member.kind or len(shape) != len(member.max_shape):
        raise NpzInputError(f"{key} has dtype {dtype} and {len(shape)} dims")
    if not 0 < dtype.itemsize <= member.max_itemsize:
        raise NpzInputError(f"{key} has dtype {dtype}: elements of 1 to {member.max_itemsize} bytes expected")
    if any(not 0 <= n <= most for n, most in zip(shape, member.max_shape, strict=True)):
        raise NpzInputError(f"{key} has shape {shape}, beyond the largest it may have, {member.max_shape}")
