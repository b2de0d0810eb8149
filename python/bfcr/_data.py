"""Tables to bfcr_data: numpy arrays by pointer, pandas DataFrames with text columns
one-hot encoded the way the CSV reader encodes them (categories sorted in byte order,
features "column=category" in place of the column), so the model keeps the categories."""
import ctypes
import warnings
from ctypes import c_char_p, c_int, c_void_p

import numpy as np

from . import _lib
from ._lib import lib


def _is_text(series):
    import pandas as pd
    dt = series.dtype
    return (pd.api.types.is_object_dtype(dt) or pd.api.types.is_string_dtype(dt)
            or isinstance(dt, pd.CategoricalDtype))


def is_frame(X):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, pd.DataFrame)


def frame_has_text(X):
    return is_frame(X) and any(_is_text(X[c]) for c in X.columns)


def _byte_key(s):
    return s.encode("utf-8")


def _text_values(series, name):
    """The column as str values; a missing value is an error, as in the CSV reader."""
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0]) + 1
        raise _lib.BFCRValueError(
            "row %d, column \"%s\": expected a value, found NaN (missing)" % (row, name),
            "BFCR_ERR_INPUT")
    vals = series.astype(str).to_numpy()
    if any(v == "" for v in vals):
        row = int(np.flatnonzero(vals == "")[0]) + 1
        raise _lib.BFCRValueError(
            "row %d, column \"%s\": expected a value, found an empty field" % (row, name),
            "BFCR_ERR_INPUT")
    return vals


def encode_frame_fit(X, comm=None):
    """(names, ncat, categories, Xenc) of a DataFrame at fit. With an mpi4py
    communicator, the categories are the union over the ranks' rows (collective)."""
    names, ncat, cats, blocks = [], [], [], []
    n = len(X)
    for c in X.columns:
        name = str(c)
        s = X[c]
        names.append(name)
        if _is_text(s):
            vals = _text_values(s, name)
            local = set(vals.tolist())
            if isinstance(comm, _lib.Comm):
                comm = comm.comm
            if comm is not None:
                local = set().union(*comm.allgather(local))
            cs = sorted(local, key=_byte_key)
            ncat.append(len(cs))
            cats.extend(cs)
            idx = {v: k for k, v in enumerate(cs)}
            codes = np.fromiter((idx[v] for v in vals), dtype=np.int64, count=n)
            block = np.zeros((n, len(cs)))
            block[np.arange(n), codes] = 1.0
            blocks.append(block)
        else:
            ncat.append(0)
            blocks.append(np.asarray(s, dtype=np.float64).reshape(n, 1))
    Xenc = np.ascontiguousarray(np.hstack(blocks)) if blocks else np.empty((n, 0))
    return names, ncat, cats, Xenc


def schema_columns(schema):
    """[(name, kind, categories)] of a schema's source columns."""
    out = []
    for i in range(lib.bfcr_schema_columns(schema)):
        name = lib.bfcr_schema_column_name(schema, i).decode()
        kind = lib.bfcr_schema_column_kind(schema, i)
        cats = [lib.bfcr_schema_column_category(schema, i, k).decode()
                for k in range(lib.bfcr_schema_column_categories(schema, i))]
        out.append((name, kind, cats))
    return out


def encode_frame_predict(X, columns):
    """Encode a DataFrame with the model's columns (kinds 0 numeric, 1 text); a category
    not seen at fit is encoded as all zeros (with a warning), as the CSV reader does."""
    n = len(X)
    blocks = []
    for name, kind, cats in columns:
        if kind not in (0, 1):
            continue
        if name not in X.columns:
            raise _lib.BFCRValueError(
                "column \"%s\" of the training data is missing" % name, "BFCR_ERR_INPUT")
        s = X[name]
        if kind == 0:
            blocks.append(np.asarray(s, dtype=np.float64).reshape(n, 1))
            continue
        vals = _text_values(s, name)
        idx = {v: k for k, v in enumerate(cats)}
        codes = np.fromiter((idx.get(v, -1) for v in vals), dtype=np.int64, count=n)
        block = np.zeros((n, len(cats)))
        seen = codes >= 0
        block[np.flatnonzero(seen), codes[seen]] = 1.0
        if not seen.all():
            warnings.warn("column \"%s\": %d values of categories unseen at fit (encoded as "
                          "all zeros)" % (name, int((~seen).sum())))
        blocks.append(block)
    return np.ascontiguousarray(np.hstack(blocks)) if blocks else np.empty((n, 0))


class Data:
    """A bfcr_data built from arrays (the library copies the rows)."""

    def __init__(self, ctx, X, y=None, columns=None, target=None):
        self.handle = c_void_p()
        X = np.ascontiguousarray(X, dtype=np.float64)  # no copy when it already is
        if y is not None:
            y = np.ascontiguousarray(y, dtype=np.float64)
        xp = X.ctypes.data_as(_lib.P_DBL)
        yp = y.ctypes.data_as(_lib.P_DBL) if y is not None else None
        with _lib.library_call():
            rc = self._make(ctx, X, xp, yp, columns, target)
        _lib.check(ctx, rc)

    def _make(self, ctx, X, xp, yp, columns, target):
        if columns is None:
            return lib.bfcr_data_from_arrays(ctx.handle, X.shape[0], X.shape[1], xp, yp, None,
                                             ctypes.byref(self.handle))
        names, ncat, cats = columns
        arr_n = (c_char_p * len(names))(*[s.encode() for s in names])
        arr_k = (c_int * len(ncat))(*ncat)
        arr_c = (c_char_p * max(len(cats), 1))(*[s.encode() for s in cats])
        return lib.bfcr_data_from_columns(ctx.handle, X.shape[0], len(names), arr_n, arr_k,
                                          arr_c, xp, yp, target.encode() if target else None,
                                          ctypes.byref(self.handle))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        lib.bfcr_data_destroy(ctypes.byref(self.handle))
