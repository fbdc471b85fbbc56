"""CIFAR-100 packed small enough to upload: lossless WebP mosaics in at most two tar parts.

The GPU job (gpu/README.md) may upload at most 64 MiB per job, the project's files included, and
CIFAR-100's pickles are 184 MB. Lossless WebP took the test set from 30.7 MB to 17.2 MB (PNG 21.5 MB,
xz 22.9 MB, measured on it when the format was chosen), so the images travel as WebP mosaics of
CHUNK images each, and the chunks are split into parts of about equal size. Pillow reads them back
bit-exactly; the labels, the `meta` file and the content digests that prove the round trip travel
in the job folder (`labels.npz`, `meta`, bundle.json), not in the parts.

Unpacking writes an ordinary cifar-100-python folder (Python-2-compatible pickles of numpy arrays,
as `pipeline.data` reads them), so the job trains and evaluates through the same code as build.py.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline.errors import StudyError

CHUNK = 1_000  # images per WebP mosaic: 40 x 25 tiles, 1280 x 800 pixels
COLUMNS = 40  # tiles per mosaic row
SIDE = 32  # pixels per image side
MAX_PART_BYTES = 60 * 2**20  # a part travels alone with job/, under a slot's 64-MiB upload (gpu/README.md)
MAX_PARTS = 2
SPLITS = ("train", "test")
# Lossless WebP at Pillow's default effort: method 6 was 0.7 % smaller and 8x slower (test set, 2026-12-01).
WEBP = {"format": "WEBP", "lossless": True, "quality": 100, "method": 4}


class PackError(StudyError, ValueError):
    """A part or a packed array is not what the bundle says; the message names it and the fix."""


# ----------------------------------------------------------------------------- images <-> mosaics


def mosaic(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 3, 32, 32) images -> one uint8 (rows*32, COLUMNS*32, 3) picture, zero tiles after the last."""
    n = len(images)
    rows = -(-n // COLUMNS)
    tiles = np.zeros((rows * COLUMNS, SIDE, SIDE, 3), np.uint8)
    tiles[:n] = images.transpose(0, 2, 3, 1)
    return tiles.reshape(rows, COLUMNS, SIDE, SIDE, 3).transpose(0, 2, 1, 3, 4).reshape(rows * SIDE, -1, 3)


def unmosaic(picture: np.ndarray, n: int) -> np.ndarray:
    """The inverse of mosaic: the first n tiles as uint8 (n, 3, 32, 32)."""
    rows = picture.shape[0] // SIDE
    tiles = picture.reshape(rows, SIDE, COLUMNS, SIDE, 3).transpose(0, 2, 1, 3, 4).reshape(-1, SIDE, SIDE, 3)
    return np.ascontiguousarray(tiles[:n].transpose(0, 3, 1, 2))


def encode(images: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(mosaic(images)).save(buffer, **WEBP)
    return buffer.getvalue()


def decode(data: bytes, n: int, name: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as picture:
            pixels = np.asarray(picture.convert("RGB"))
    except Exception as exc:  # any decoder failure means the same: the part is damaged
        raise PackError(
            f"{name} is not a readable WebP image ({type(exc).__name__}): upload the part again"
        ) from None
    if pixels.shape != (-(-n // COLUMNS) * SIDE, COLUMNS * SIDE, 3):
        raise PackError(f"{name} has {pixels.shape}, not the mosaic of {n} images: upload the part again")
    return unmosaic(pixels, n)


# ----------------------------------------------------------------------------- packing


def chunk_names(split: str, n: int) -> Iterator[tuple[str, slice]]:
    """(member name, rows) of each mosaic of a split of n images."""
    for i, start in enumerate(range(0, n, CHUNK)):
        yield f"{split}-{i:03d}.webp", slice(start, min(n, start + CHUNK))


def encoded_chunks(arrays: dict[str, np.ndarray]) -> list[tuple[str, bytes]]:
    """Every split's images ((N, 3072) rows) as (name, WebP bytes), in order: train first, then test."""
    chunks = []
    for split in SPLITS:
        images = arrays[split].reshape(-1, 3, SIDE, SIDE)
        chunks += [(name, encode(images[rows])) for name, rows in chunk_names(split, len(images))]
    return chunks


def assign_parts(sizes: list[int], max_parts: int = MAX_PARTS, limit: int = MAX_PART_BYTES) -> list[int]:
    """Part number (1-based) of each chunk, in order: parts of about equal size, each under `limit`."""
    target = max(1, -(-sum(sizes) // max_parts))
    parts, part, filled = [], 1, 0
    for size in sizes:
        if filled and filled + size > target and part < max_parts:
            part, filled = part + 1, 0
        parts.append(part)
        filled += size
    totals = [sum(s for s, p in zip(sizes, parts, strict=True) if p == k) for k in set(parts)]
    if max(totals, default=0) >= limit:
        raise PackError(
            f"the packed images need {sum(sizes) / 2**20:.1f} MiB, more than {max_parts} parts of "
            f"{limit / 2**20:.0f} MiB: the dataset is not CIFAR-100's size"
        )
    return parts


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed tar (WebP is compressed already) with fixed metadata: equal inputs, equal bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pack(arrays: dict[str, np.ndarray]) -> list[bytes]:
    """The images of arrays["train"] and arrays["test"] ((N, 3072) uint8) as at most two tar parts."""
    chunks = encoded_chunks(arrays)
    parts = assign_parts([len(data) for _, data in chunks])
    return [tar_bytes([c for c, p in zip(chunks, parts, strict=True) if p == k]) for k in sorted(set(parts))]


# ----------------------------------------------------------------------------- unpacking


def read_members(data: bytes, part: str) -> dict[str, bytes]:
    """The WebP members of one part's bytes; anything else in it (links, folders, other names) is refused."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            bad = [m.name for m in members if not m.isfile() or "/" in m.name or not m.name.endswith(".webp")]
            if bad:
                raise PackError(f"{part} holds {bad[0]!r}, which no bundle writes: make the bundle again")
            return {m.name: tar.extractfile(m).read() for m in members}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackError(f"{part} is not a readable part ({type(exc).__name__}): upload it again") from None


def unpack(members: dict[str, bytes], sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """{split: (N, 3072) uint8} from the members of all parts; sizes gives each split's N."""
    out = {}
    for split in SPLITS:
        pieces = []
        for name, rows in chunk_names(split, sizes[split]):
            if name not in members:
                raise PackError(f"{name} is in no part: upload every part of the bundle")
            pieces.append(decode(members[name], rows.stop - rows.start, name))
        out[split] = (
            np.concatenate(pieces).reshape(-1, 3 * SIDE * SIDE) if pieces else np.zeros((0, 3072), np.uint8)
        )
    return out


def write_cifar_file(path: Path, data: np.ndarray, fine: np.ndarray, coarse: np.ndarray, split: str) -> None:
    """One cifar-100-python file as pipeline.data reads it (protocol 2, as the official Python-2 pickles)."""
    entry = {
        "batch_label": f"{split} batch, unpacked from a GPU-job bundle",
        "data": np.ascontiguousarray(data, np.uint8),
        "fine_labels": [int(v) for v in fine],
        "coarse_labels": [int(v) for v in coarse],
        "filenames": [f"unpacked_{split}_{i}.png" for i in range(len(fine))],
    }
    path.write_bytes(pickle.dumps(entry, protocol=2))
