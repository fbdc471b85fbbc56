"""Unpickling the CIFAR-100 files without running code from them: an allow-listing Unpickler.

A pickle can name any importable callable and call it while it loads (pickle's own documentation:
"Never unpickle data that could have come from an untrusted source"), and a dataset folder is
input from outside. The official `cifar-100-python` files and the rebuilt copy name exactly three
globals (numpy's array reconstruction, ndarray and dtype; checked with pickletools); everything else
in them is plain containers, strings and numbers, which need no global (Python 3 writes bytes in
protocol 2 through _codecs.encode, admitted too). So `find_class` admits those and refuses every other name, as the "Restricting Globals" recipe of the pickle documentation
does; an array of Python objects is refused too, since its items are what a payload would hide in.
"""

from __future__ import annotations

import _codecs
import io
import pickle

import numpy as np

try:  # numpy >= 2 keeps the implementation in numpy._core; numpy.core is a deprecated alias
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes in protocol 2 as _codecs.encode(text, "latin1") (our synthetic stand-ins
    # do); encoding text runs no code of the file's choosing.
    ("_codecs", "encode"): _codecs.encode,
}


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list: it is not a CIFAR-100 file."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(f"it names {module}.{name}, which no CIFAR-100 file contains") from None


def _no_object_arrays(obj) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise ForbiddenGlobal("it holds an array of Python objects, which no CIFAR-100 file contains")
    if isinstance(obj, dict):
        for value in obj.values():
            _no_object_arrays(value)


def loads(raw: bytes) -> object:
    """pickle.loads(raw, encoding="latin1") admitting only what the CIFAR-100 files need."""
    obj = _Unpickler(io.BytesIO(raw), encoding="latin1").load()
    _no_object_arrays(obj)
    return obj
