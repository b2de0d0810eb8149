"""Shared fixtures of the Python package tests (run by ctest as python.*, or by hand:
PYTHONPATH=build/python BFCR_BIN=build/bin /usr/bin/python3 -m pytest tests/python)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("BFCR_DATA", os.path.join(ROOT, "datasets"))
BIN = os.environ.get("BFCR_BIN", os.path.join(ROOT, "build", "bin"))

# Target column of each shipped dataset (datasets/README.md).
TARGETS = {
    "boston": "medv",
    "concrete": "compressive_strength",
    "cps1988": "wage",
    "diabetes": "progression",
    "diamonds": "price",
    "txhousing": "median",
}


def app(*args):
    """Run the bfcr app; returns its stdout (fails the test on a non-zero exit)."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    r = subprocess.run([os.path.join(BIN, "bfcr"), *args], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def read_csv(name):
    import pandas as pd
    # round_trip: the same doubles as the library's correctly rounded parser.
    return pd.read_csv(os.path.join(DATA, name + ".csv"), float_precision="round_trip")


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
