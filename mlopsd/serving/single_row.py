"""One row through LightGBM's fast single-row C entry point.

`Booster.predict` on one row builds a predictor object, its parameter string and ctypes
views on every call: ~35 µs of a ~150 µs request, where the trees themselves take a few.
LightGBM's `LGBM_BoosterPredictForMatSingleRowFast` keeps all that set up in a handle made
once per loaded version, so a row costs one C call. Its numbers are LightGBM's own
prediction of the row (the same predictor underneath); a version is only answered this way
after its warm-up row gave exactly what `Booster.predict` gives (`load`), and the serving
tests compare both on every row of the example data for each task.

A handle is not safe to use from two threads at once: a call that finds it busy returns
None and the caller predicts the usual way.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

_NORMAL, _FLOAT64 = 0, 1
"""LightGBM's C API constants: C_API_PREDICT_NORMAL, C_API_DTYPE_FLOAT64."""


def _entry(lib: Any) -> Any:
    # A prototype of our own: setting argtypes on the library's attribute would change how
    # LightGBM's Python package calls it too.
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p)
    return proto(("LGBM_BoosterPredictForMatSingleRowFast", lib))


class SingleRow:
    """A version's single-row predictor: `predict(row)` → the same array `Booster.predict`
    gives for a (1, n) matrix, or None when the handle is busy or the call failed."""

    def __init__(self, booster: Any, width: int, outputs: int, multiclass: bool) -> None:
        from lightgbm.basic import _LIB, _safe_call

        self._booster = booster  # the handle points into it: it must outlive the handle
        handle = ctypes.c_void_p()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            booster._handle, ctypes.c_int(_NORMAL), ctypes.c_int(0),
            ctypes.c_int(booster.best_iteration), ctypes.c_int(_FLOAT64),
            ctypes.c_int32(width), ctypes.c_char_p(b"num_threads=1"), ctypes.byref(handle)))
        self._handle = handle.value
        weakref.finalize(self, _LIB.LGBM_FastConfigFree, ctypes.c_void_p(handle.value))
        self._call = _entry(_LIB)
        self._width = width
        self._out = np.empty(outputs, dtype=np.float64)
        self._out_at = self._out.ctypes.data
        self._shape = (1, outputs) if multiclass else (1,)
        self._length = ctypes.c_int64()
        self._lock = threading.Lock()

    def predict(self, row: np.ndarray) -> np.ndarray | None:
        if (row.shape != (1, self._width) or row.dtype != np.float64
                or not row.flags.c_contiguous):
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            # __array_interface__, not .ctypes: numpy builds a ctypes helper object for that
            failed = self._call(self._handle, row.__array_interface__["data"][0],
                                ctypes.byref(self._length), self._out_at)
            if failed:
                return None
            return self._out.reshape(self._shape).copy()
        finally:
            self._lock.release()
