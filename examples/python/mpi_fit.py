#!/usr/bin/python3
"""Each rank passes its own rows; the model is the one a single process fits.

    mpiexec -n 2 env PYTHONPATH=build/python /usr/bin/python3 examples/python/mpi_fit.py
"""
import numpy as np
from mpi4py import MPI

import bfcr

comm = MPI.COMM_WORLD
rng = np.random.default_rng(comm.Get_rank())  # this rank's own data
X = rng.normal(size=(5000, 3)) * 3
y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]

est = bfcr.BFCRegressor(comm=comm).fit(X, y)  # collective
pred = est.predict(X)                          # collective, this rank's rows
mse = comm.allreduce(float(np.sum((pred - y) ** 2))) / comm.allreduce(len(y))
if comm.Get_rank() == 0:
    print("%d ranks: level %d, %d clusters, training MSE %.4f" %
          (comm.Get_size(), est.chosen_level_, est.n_clusters_, mse))
    est.save("mpi_model.bfcr")  # rank 0 writes (save is collective)
