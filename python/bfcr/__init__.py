"""bfcr: best-friend-clustering regression (libbfcr) for Python, scikit-learn style.

    import bfcr
    est = bfcr.BFCRegressor().fit(X, y)     # numpy arrays or pandas DataFrames
    yhat = est.predict(X_new)
    est.save("model.bfcr"); est2 = bfcr.load("model.bfcr")   # the app's model files

MPI is started quietly on first use when the process has not started it (a single
process); under mpirun pass an mpi4py communicator: BFCRegressor(comm=MPI.COMM_WORLD).
See docs/python.md.
"""
from ._layout import VERSION as __version__
from ._lib import (Comm, BFCRError, BFCRMemoryError, BFCRNumericError, BFCROSError,
                   BFCRValueError)
from ._estimators import BestFriendClustering, BFCRegressor, load

__all__ = ["BFCRegressor", "BestFriendClustering", "load", "Comm", "BFCRError", "BFCRValueError",
           "BFCROSError", "BFCRMemoryError", "BFCRNumericError", "__version__"]
