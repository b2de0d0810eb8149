"""Under mpiexec -n P: fit and predict with an mpi4py communicator, each rank passing its
own block of rows, give the model and predictions of one process (which every rank also
computes alone on MPI_COMM_SELF). Prints "mpi_check: ok" on rank 0 when all ranks agree."""
import os
import sys

import numpy as np
from mpi4py import MPI

import bfcr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import read_csv  # noqa: E402

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
ok = True


def block(n):
    lo = n * rank // size
    hi = n * (rank + 1) // size
    return slice(lo, hi)


def check(name, cond):
    global ok
    if not cond:
        print("rank %d: %s differs" % (rank, name), flush=True)
        ok = False


# Numeric data.
rng = np.random.default_rng(5)
X = rng.normal(size=(3000, 4)) * 4
y = np.sin(X[:, 0]) * 3 + X[:, 1] * X[:, 2] + rng.normal(size=3000) * 0.1
alone = bfcr.BFCRegressor().fit(X, y)  # MPI_COMM_SELF: this rank alone, all rows
mine = block(len(X))
dist = bfcr.BFCRegressor(comm=comm).fit(X[mine], y[mine])
check("model bytes", dist.to_bytes() == alone.to_bytes())
check("predictions", np.array_equal(dist.predict(X[mine]), alone.predict(X[mine])))

# scikit-learn's clone keeps the communicator when it is wrapped in bfcr.Comm.
from sklearn.base import clone  # noqa: E402
wrapped = clone(bfcr.BFCRegressor(comm=bfcr.Comm(comm)))
check("clone with bfcr.Comm", wrapped.fit(X[mine], y[mine]).to_bytes() == alone.to_bytes())

# A DataFrame with text columns (categories merged over the ranks by the library).
df = read_csv("cps1988")
target = df.pop("wage")
part = block(len(df))
one = bfcr.BFCRegressor().fit(df, target)
many = bfcr.BFCRegressor(comm=comm).fit(df.iloc[part], target.iloc[part])
check("text model bytes", many.to_bytes() == one.to_bytes())

# Clustering.
lab = bfcr.BestFriendClustering(comm=comm).fit(X[mine])
check("cluster labels", np.array_equal(lab.labels_,
                                       bfcr.BestFriendClustering().fit(X).labels_[mine]))

ok = comm.allreduce(ok, op=MPI.LAND)
if rank == 0:
    print("mpi_check: ok" if ok else "mpi_check: FAILED", flush=True)
sys.exit(0 if ok else 1)
