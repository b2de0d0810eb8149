"""ctypes binding of libbfcr: library loading, MPI start-up, contexts and errors.

Why ctypes (docs/python.md): the package runs on the same shared library as C callers,
with no build against Python headers; ctypes releases the GIL for the duration of every
foreign call, and numpy arrays are passed by pointer (no copy when they are already
C-contiguous float64).
"""
import atexit
import ctypes
import os
import threading
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int64, c_void_p)

from . import _layout, _paths

_here = os.path.dirname(os.path.abspath(__file__))


def _resolve(path):
    if _paths.RELATIVE and not os.path.isabs(path):
        return os.path.normpath(os.path.join(_here, path))
    return path


# Open MPI loads its components with dlopen; they need libmpi's symbols global.
def _load_mpi():
    for name in (os.environ.get("BFCR_LIBMPI"), _paths.LIBMPI, "libmpi.so.40"):
        if name:
            try:
                return ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
    raise OSError("bfcr: cannot load Open MPI's libmpi (set BFCR_LIBMPI)")


_mpi = _load_mpi()
lib = ctypes.CDLL(os.environ.get("BFCR_LIBRARY") or _resolve(_paths.LIBBFCR),
                  mode=ctypes.RTLD_GLOBAL)

P_DBL = POINTER(c_double)
P_I64 = POINTER(c_int64)


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_sig("bfcr_ctx_create", c_int, c_void_p, POINTER(c_void_p))
_sig("bfcr_ctx_destroy", None, POINTER(c_void_p))
_sig("bfcr_ctx_set_threads", c_int, c_void_p, c_int)
_sig("bfcr_ctx_threads", c_int, c_void_p)
_sig("bfcr_ctx_rank", c_int, c_void_p)
_sig("bfcr_ctx_size", c_int, c_void_p)
_sig("bfcr_ctx_errmsg", c_char_p, c_void_p)
_sig("bfcr_ctx_clear_error", None, c_void_p)
_sig("bfcr_status_name", c_char_p, c_int)
_sig("bfcr_fit_params_init", None, c_void_p)
_sig("bfcr_tree_params_init", None, c_void_p)
_sig("bfcr_data_from_arrays", c_int, c_void_p, c_int64, c_int, P_DBL, P_DBL, c_void_p,
     POINTER(c_void_p))
_sig("bfcr_data_from_columns", c_int, c_void_p, c_int64, c_int, POINTER(c_char_p),
     POINTER(c_int), POINTER(c_char_p), P_DBL, P_DBL, c_char_p, POINTER(c_void_p))
_sig("bfcr_data_destroy", None, POINTER(c_void_p))
_sig("bfcr_data_schema", c_void_p, c_void_p)
_sig("bfcr_schema_features", c_int, c_void_p)
_sig("bfcr_schema_feature_name", c_char_p, c_void_p, c_int)
_sig("bfcr_schema_target", c_char_p, c_void_p)
_sig("bfcr_schema_columns", c_int, c_void_p)
_sig("bfcr_schema_column_name", c_char_p, c_void_p, c_int)
_sig("bfcr_schema_column_kind", c_int, c_void_p, c_int)
_sig("bfcr_schema_column_categories", c_int, c_void_p, c_int)
_sig("bfcr_schema_column_category", c_char_p, c_void_p, c_int, c_int)
_sig("bfcr_fit", c_int, c_void_p, c_void_p, c_void_p, POINTER(c_void_p))
_sig("bfcr_model_destroy", None, POINTER(c_void_p))
_sig("bfcr_predict", c_int, c_void_p, c_void_p, c_void_p, P_DBL)
_sig("bfcr_model_assign", c_int, c_void_p, c_void_p, c_void_p, P_I64)
_sig("bfcr_model_save", c_int, c_void_p, c_void_p, c_char_p)
_sig("bfcr_model_load", c_int, c_void_p, c_char_p, POINTER(c_void_p))
_sig("bfcr_model_schema", c_void_p, c_void_p)
_sig("bfcr_model_num_levels", c_int, c_void_p)
_sig("bfcr_model_level_info", c_int, c_void_p, c_int, c_void_p)
_sig("bfcr_model_chosen_level", c_int, c_void_p)
_sig("bfcr_model_clusters", c_int64, c_void_p)
_sig("bfcr_model_params", c_void_p, c_void_p)
_sig("bfcr_model_train_scores", None, c_void_p, P_DBL, P_DBL, P_DBL)
_sig("bfcr_model_pieces", c_int64, c_void_p)
_sig("bfcr_model_cluster", c_int, c_void_p, c_int64, P_DBL, P_I64, P_DBL, POINTER(c_int))
_sig("bfcr_tree_build", c_int, c_void_p, c_void_p, c_void_p, POINTER(c_void_p))
_sig("bfcr_tree_destroy", None, POINTER(c_void_p))
_sig("bfcr_tree_num_levels", c_int, c_void_p)
_sig("bfcr_tree_level_info", c_int, c_void_p, c_int, c_void_p)
_sig("bfcr_tree_labels", c_int, c_void_p, c_int, P_I64)


# OpenBLAS runs single-threaded inside bfcr calls, as in the app (apps/bfcr/main.c): the
# library parallelises with its own threads, and its results (bit for bit) assume one BLAS
# thread. The caller's setting (numpy shares this OpenBLAS) is restored after each call.
try:
    _blas_get = lib.openblas_get_num_threads
    _blas_set = lib.openblas_set_num_threads
    _blas_get.restype, _blas_get.argtypes = c_int, []
    _blas_set.restype, _blas_set.argtypes = None, [c_int]
except AttributeError:  # pragma: no cover - another BLAS
    _blas_get = _blas_set = None


class blas_single:
    """Context manager: one OpenBLAS thread for the duration of a bfcr call."""

    def __enter__(self):
        self.saved = _blas_get() if _blas_get else 1
        if self.saved != 1:
            _blas_set(1)

    def __exit__(self, *exc):
        if self.saved != 1:
            _blas_set(self.saved)


# ------------------------------------------------------------------ errors ----

class BFCRError(Exception):
    """An error reported by libbfcr: `status` is the library's code name
    ("BFCR_ERR_INPUT"), the message is the library's own."""

    def __init__(self, message, status="BFCR_ERR_INTERNAL"):
        super().__init__(message)
        self.status = status


class BFCRValueError(BFCRError, ValueError):
    """Bad argument, bad input data or a corrupt model file."""


class BFCROSError(BFCRError, OSError):
    """The file system refused a read or a write."""


class BFCRMemoryError(BFCRError, MemoryError):
    """Out of memory or a size limit exceeded."""


class BFCRNumericError(BFCRError, ArithmeticError):
    """A numerical failure (LAPACK, a non-finite result)."""


_EXC = {
    "BFCR_ERR_ARG": BFCRValueError,
    "BFCR_ERR_INPUT": BFCRValueError,
    "BFCR_ERR_FORMAT": BFCRValueError,
    "BFCR_ERR_IO": BFCROSError,
    "BFCR_ERR_NOMEM": BFCRMemoryError,
    "BFCR_ERR_NUMERIC": BFCRNumericError,
}


def check(ctx, status):
    """Raise the exception of a non-zero status with the context's message."""
    if status == 0:
        return
    name = _layout.STATUS.get(status, "BFCR_ERR_%d" % status)
    msg = lib.bfcr_ctx_errmsg(ctx.handle) if ctx is not None else b""
    msg = (msg or b"").decode("utf-8", "replace") or name
    if ctx is not None:
        lib.bfcr_ctx_clear_error(ctx.handle)
    raise _EXC.get(name, BFCRError)(msg, name)


# --------------------------------------------------------------------- MPI ----

# Launcher variables: when one is set, a launcher started this process and its choice of
# transport stands (same list as the app's apps/bfcr/mpi_start.c).
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK",
                  "PMIX_NAMESPACE", "PMI_RANK", "PMI_SIZE", "PMI_FD", "SLURM_PROCID")
_mpi_lock = threading.Lock()
_we_initialized = False
_serial = None  # a lock around every library call when MPI is not MPI_THREAD_MULTIPLE


def mpi_start():
    """Initialise MPI once, quietly, as the app does (a singleton with the ob1 pml when no
    launcher started the process). Does nothing when MPI is already running (mpi4py)."""
    global _we_initialized, _serial
    with _mpi_lock:
        flag = c_int(0)
        _mpi.MPI_Initialized(ctypes.byref(flag))
        if flag.value:
            if _serial is None:
                level = c_int(0)
                _mpi.MPI_Query_thread(ctypes.byref(level))
                _serial = threading.RLock() if level.value < 3 else False
            return
        fin = c_int(0)
        _mpi.MPI_Finalized(ctypes.byref(fin))
        if fin.value:
            raise RuntimeError("MPI was finalized: bfcr cannot run any more in this process")
        if "OMPI_MCA_pml" not in os.environ and not any(
                os.environ.get(v) for v in _LAUNCHER_VARS):
            os.environ["OMPI_MCA_pml"] = "ob1"  # os.environ also calls setenv
        provided = c_int(0)
        # MPI_THREAD_MULTIPLE (3): the GIL is released during calls, so Python threads may
        # call bfcr (each on its own context) at the same time. When MPI gives less, the
        # calls are serialised by a lock (library_call()).
        rc = _mpi.MPI_Init_thread(None, None, c_int(3), ctypes.byref(provided))
        if rc != 0:
            raise RuntimeError("MPI_Init_thread failed (%d)" % rc)
        _we_initialized = True
        _serial = threading.RLock() if provided.value < 3 else False
        atexit.register(_mpi_stop)


def _mpi_stop():
    _contexts.destroy_all()
    fin = c_int(0)
    _mpi.MPI_Finalized(ctypes.byref(fin))
    if _we_initialized and not fin.value:
        _mpi.MPI_Finalize()


class library_call:
    """Context manager around every collective library call: one OpenBLAS thread (see
    blas_single) and, when MPI is not thread-multiple, one call at a time."""

    def __enter__(self):
        if _serial:
            _serial.acquire()
        self.blas = blas_single()
        self.blas.__enter__()

    def __exit__(self, *exc):
        self.blas.__exit__(*exc)
        if _serial:
            _serial.release()


class Comm:
    """An mpi4py communicator for the `comm` parameter that survives scikit-learn's clone
    (clone deep-copies parameters, which mpi4py communicators refuse):
    BFCRegressor(comm=bfcr.Comm(MPI.COMM_WORLD)). Copies are the object itself."""

    def __init__(self, comm):
        self.comm = comm

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return "bfcr.Comm(%r)" % (self.comm,)


def comm_self():
    # Open MPI's MPI_COMM_SELF is the address of this object.
    return ctypes.addressof(ctypes.c_char.in_dll(_mpi, "ompi_mpi_comm_self"))


def comm_handle(comm):
    """C handle (an Open MPI pointer) of an mpi4py communicator, or MPI_COMM_SELF."""
    if comm is None:
        return comm_self()
    if isinstance(comm, Comm):
        comm = comm.comm
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover
        raise ValueError("comm= needs mpi4py") from e
    if not isinstance(comm, MPI.Comm):
        raise ValueError("comm must be an mpi4py communicator, got %r" % type(comm).__name__)
    return MPI._handleof(comm)


# ---------------------------------------------------------------- contexts ----

class Context:
    """A bfcr_ctx on a communicator (duplicated by the library)."""

    def __init__(self, comm_h):
        self.handle = c_void_p()
        with library_call():
            rc = lib.bfcr_ctx_create(c_void_p(comm_h), ctypes.byref(self.handle))
        if rc != 0:
            raise BFCRError("bfcr_ctx_create failed: %s" % lib.bfcr_status_name(rc).decode(),
                            lib.bfcr_status_name(rc).decode())

    def set_threads(self, n):
        check(self, lib.bfcr_ctx_set_threads(self.handle, int(n)))

    @property
    def rank(self):
        return lib.bfcr_ctx_rank(self.handle)

    @property
    def size(self):
        return lib.bfcr_ctx_size(self.handle)

    def destroy(self):
        if self.handle:
            lib.bfcr_ctx_destroy(ctypes.byref(self.handle))


class _Contexts(threading.local):
    """One context per (thread, communicator), kept: creating one duplicates the
    communicator, which online scoring should not pay per call. A context is used by
    one thread at a time, as the library asks."""
    registry = []  # every context of every thread, destroyed before MPI_Finalize
    lock = threading.Lock()

    def __init__(self):
        self.by_comm = {}

    def get(self, comm=None, threads=None):
        mpi_start()
        h = comm_handle(comm)
        ctx = self.by_comm.get(h)
        if ctx is None:
            ctx = Context(h)
            self.by_comm[h] = ctx
            with self.lock:
                self.registry.append(ctx)
        ctx.set_threads(1 if threads is None else threads)
        return ctx

    def destroy_all(self):
        with self.lock:
            for ctx in self.registry:
                ctx.destroy()
            self.registry.clear()


_contexts = _Contexts()


def context(comm=None, threads=None):
    return _contexts.get(comm, threads)


# ------------------------------------------------------------------ structs ---

class Struct:
    """A C struct as bytes, fields read and written at the compiler's offsets
    (_layout.py); fields the package does not know keep the library's values."""

    def __init__(self, size, fields, init=None, src=None):
        self.buf = ctypes.create_string_buffer(size)
        self.fields = fields
        if src:
            ctypes.memmove(self.buf, src, size)
        elif init:
            init(self.buf)

    def __getitem__(self, name):
        import struct
        off, code = self.fields[name]
        return struct.unpack_from("=" + code, self.buf, off)[0]

    def __setitem__(self, name, value):
        import struct
        off, code = self.fields[name]
        struct.pack_into("=" + code, self.buf, off, value)

    def as_dict(self):
        return {k: self[k] for k in self.fields}

    @property
    def ptr(self):
        return ctypes.cast(self.buf, c_void_p)


def fit_params(src=None):
    return Struct(_layout.FIT_PARAMS_SIZE, _layout.FIT_PARAMS, lib.bfcr_fit_params_init, src)


def tree_params():
    return Struct(_layout.TREE_PARAMS_SIZE, _layout.TREE_PARAMS, lib.bfcr_tree_params_init)


def level_info():
    return Struct(_layout.LEVEL_INFO_SIZE, _layout.LEVEL_INFO)
