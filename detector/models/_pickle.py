"""Reading a model file without running code from it.

A model file is a joblib pickle, and a pickle can name any function for the loader to call
(``os.system`` with arguments of its choosing). :func:`load_model_pickle` reads one with an
unpickler that resolves only what a vidprov model holds: numpy arrays and scalars, scikit-learn
classes, vidprov's own detector classes and plain containers. Anything else stops the load
before it is imported, let alone called.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
from joblib.numpy_pickle import NumpyUnpickler, _validate_fileobject_and_memmap

_BUILTINS = frozenset(
    {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes",
     "bytearray", "bool", "slice", "range"}
)  # fmt: skip
_EXACT = frozenset(
    {
        ("collections", "OrderedDict"),
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
    }
)
_CLASS_PACKAGES = ("sklearn", "vidprov.detector")  # their classes, never their functions


class RefusedGlobal(pickle.UnpicklingError):
    """The file asks for something a model file never holds."""

    def __init__(self, module: str, name: str) -> None:
        self.what = f"{module}.{name}"
        super().__init__(f"a model file never holds {self.what}")


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _harmless(module: str, name: str, obj: Any) -> bool:
    """Whether ``obj`` (found as ``module.name``) may be used while building a model."""
    if (module, name) in _EXACT:
        return True
    if not isinstance(obj, type):
        return False
    if _in(module, "numpy"):  # scalar and dtype classes; not memmap, which opens files
        return issubclass(obj, np.generic | np.dtype)
    return any(_in(module, p) for p in _CLASS_PACKAGES)


class _ModelUnpickler(NumpyUnpickler):
    dispatch = NumpyUnpickler.dispatch.copy()

    def find_class(self, module: str, name: str) -> Any:
        # decide on the name first: importing an unknown module can itself run code
        if module == "builtins":
            if name not in _BUILTINS:
                raise RefusedGlobal(module, name)
        elif not any(_in(module, p) for p in ("numpy", "collections", "joblib", *_CLASS_PACKAGES)):
            raise RefusedGlobal(module, name)
        obj = super().find_class(module, name)
        if module != "builtins" and not _harmless(module, name, obj):
            raise RefusedGlobal(module, name)
        return obj


def load_model_pickle(path: Path) -> Any:
    """What the joblib file ``path`` holds, built from allowed classes only.

    Raises:
        RefusedGlobal: the file names a function or class a model never holds.
        OSError, pickle.UnpicklingError, ValueError, EOFError: an unreadable or damaged file.
    """
    with (
        open(path, "rb") as f,
        _validate_fileobject_and_memmap(f, str(path), None) as (fobj, _),
    ):
        return _ModelUnpickler(str(path), fobj, ensure_native_byte_order=True).load()
