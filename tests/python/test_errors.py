"""Errors arrive as Python exceptions with the library's message; nothing is printed."""
import numpy as np
import pytest

import bfcr


def data(n=200, d=3):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, d))
    return X, X @ np.arange(1, d + 1) + rng.normal(size=n)


def test_nan_in_X():
    X, y = data()
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 6, column 2: expected a finite value, found NaN"):
        bfcr.BFCRegressor().fit(X, y)
    est = bfcr.BFCRegressor().fit(*data())
    X[5, 1] = np.inf
    with pytest.raises(bfcr.BFCRValueError, match="found inf") as e:
        est.predict(X)
    assert e.value.status == "BFCR_ERR_INPUT"


def test_wrong_feature_count():
    est = bfcr.BFCRegressor().fit(*data())
    with pytest.raises(ValueError, match="the model expects 3 features, got 2"):
        est.predict(np.zeros((4, 2)))


def test_bad_model_files(tmp):
    with pytest.raises(OSError) as e:
        bfcr.load(str(tmp / "missing.bfcr"))
    assert "missing.bfcr" in str(e.value)
    bad = tmp / "bad.bfcr"
    bad.write_bytes(b"not a model file at all")
    with pytest.raises(ValueError) as e:
        bfcr.load(str(bad))
    assert e.value.status == "BFCR_ERR_FORMAT" and str(e.value)
    est = bfcr.BFCRegressor().fit(*data())
    good = tmp / "good.bfcr"
    est.save(str(good))
    blob = bytearray(good.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    bad.write_bytes(bytes(blob))
    with pytest.raises(ValueError):
        bfcr.load(str(bad))
    with pytest.raises(OSError):
        est.save(str(tmp / "no" / "such" / "dir" / "m.bfcr"))


def test_bad_parameters():
    with pytest.raises(ValueError, match="criterion"):
        bfcr.BFCRegressor(criterion="best").fit(*data())
    with pytest.raises(ValueError, match="level -5"):
        bfcr.BFCRegressor(level=-5).fit(*data())


def test_library_prints_nothing(capfd):
    X, y = data()
    est = bfcr.BFCRegressor().fit(X, y)
    est.predict(X)
    with pytest.raises(ValueError):
        est.predict(np.full((2, 3), np.nan))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
