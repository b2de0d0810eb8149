#!/usr/bin/python3
"""Cost of the Python layer and of online scoring (docs/python.md, "Performance").

    PYTHONPATH=build/python OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_python.py \
        [--n 1000000] [--d 8] [--threads 1] [--repeat 5]

1. Batch: predicting n x d rows with BFCRegressor.predict against the library call a C
   caller makes (bfcr_data_from_arrays + bfcr_predict, called through ctypes with no
   Python work around them) and against the library's own "predict" phase timer (the
   bfcr_predict work alone). Medians of --repeat runs; the model is warm (routing cache
   built) for every timed call.
2. Online: one row, then 100 rows, against the n-row model: the first call (which builds
   the routing kd-tree, what every call cost before the cache) and the median of later
   calls; also after bfcr.load of the saved model.
Data: seeded Gaussian blobs with a piecewise-linear target (as bfcr gen).
"""
import argparse
import ctypes
import os
import statistics
import tempfile
import time

import numpy as np

import bfcr
from bfcr import _data, _lib
from bfcr._lib import lib

lib.bfcr_ctx_reset_phases.argtypes = [ctypes.c_void_p]
lib.bfcr_ctx_num_phases.argtypes = [ctypes.c_void_p]
lib.bfcr_ctx_phase_name.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.bfcr_ctx_phase_name.restype = ctypes.c_char_p
lib.bfcr_ctx_phase_seconds.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.bfcr_ctx_phase_seconds.restype = ctypes.c_double


def blobs(n, d, seed, k=16):
    """n rows of the same k blobs (centres, slopes from seed 0); rows from seed."""
    crng = np.random.default_rng(0)
    centres = crng.normal(scale=10, size=(k, d))
    beta = crng.normal(size=(k, d))
    off = crng.normal(scale=5, size=k)
    rng = np.random.default_rng(seed)
    c = rng.integers(0, k, size=n)
    X = centres[c] + rng.normal(scale=1.5, size=(n, d))
    y = np.einsum("ij,ij->i", X - centres[c], beta[c]) + off[c] + rng.normal(scale=0.5, size=n)
    return X, y


def median_time(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def phase(ctx, name):
    for i in range(lib.bfcr_ctx_num_phases(ctx.handle)):
        if lib.bfcr_ctx_phase_name(ctx.handle, i).decode() == name:
            return lib.bfcr_ctx_phase_seconds(ctx.handle, i)
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())

    X, y = blobs(a.n, a.d, 1)
    Q, _ = blobs(a.n, a.d, 2)
    t = time.perf_counter()
    est = bfcr.BFCRegressor(threads=a.threads).fit(X, y)
    print("fit %d x %d: %.2f s (level %d, %d clusters)" %
          (a.n, a.d, time.perf_counter() - t, est.chosen_level_, est.n_clusters_))

    # --- online scoring first: the model has no routing cache yet.
    row = Q[:1]
    t = time.perf_counter()
    est.predict(row)
    first = time.perf_counter() - t
    one = median_time(lambda: est.predict(row), 200)
    q100 = Q[:100]
    hundred = median_time(lambda: est.predict(q100), 50)
    print("online, fitted model: first call %.3f s (builds the routing kd-tree); then "
          "1 row %.3f ms, 100 rows %.3f ms (medians)" % (first, one * 1e3, hundred * 1e3))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.bfcr")
        est.save(path)
        t = time.perf_counter()
        loaded = bfcr.load(path, threads=a.threads)
        tload = time.perf_counter() - t
        t = time.perf_counter()
        loaded.predict(row)
        lfirst = time.perf_counter() - t
        lone = median_time(lambda: loaded.predict(row), 200)
    print("online, loaded model: load %.3f s, first call %.3f s, then 1 row %.3f ms" %
          (tload, lfirst, lone * 1e3))

    # --- batch.
    ctx = _lib.context(None, a.threads)
    out = np.empty(a.n)

    def c_call():  # what a C caller does: wrap the arrays, predict
        with _data.Data(ctx, Q) as data, _lib.blas_single():
            lib.bfcr_predict(ctx.handle, est._model.handle, data.handle,
                             out.ctypes.data_as(_lib.P_DBL))

    est.predict(Q)  # warm
    # Interleaved, so that a change of machine load hits both sides alike; wall and CPU
    # time (CPU time of this process: with one thread, the work itself, less sensitive to
    # other jobs on a shared machine).
    wall = {"py": [], "c": []}
    cpu = {"py": [], "c": []}
    phases = []
    for _ in range(a.repeat):
        for key, fn in (("py", lambda: est.predict(Q)), ("c", c_call)):
            lib.bfcr_ctx_reset_phases(ctx.handle)
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall[key].append(time.perf_counter() - t)
            cpu[key].append(time.process_time() - c)
            if key == "c":
                phases.append(phase(ctx, "predict"))
    med = {k: statistics.median(v) for k, v in wall.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    ph = statistics.median(phases)
    print("batch predict %d x %d (medians of %d): wall Python %.3f s, library call "
          "(from_arrays + predict) %.3f s: Python +%.1f%%; CPU Python %.3f s, library call "
          "%.3f s: Python +%.1f%%; bfcr_predict phase alone %.3f s wall" %
          (a.n, a.d, a.repeat, med["py"], med["c"], 100 * (med["py"] / med["c"] - 1),
           cmed["py"], cmed["c"], 100 * (cmed["py"] / cmed["c"] - 1), ph))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
