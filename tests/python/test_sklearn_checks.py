"""scikit-learn's own estimator checks, none skipped."""
import pytest
from sklearn.utils.estimator_checks import check_estimator

import bfcr


@pytest.mark.parametrize("est", [bfcr.BFCRegressor(), bfcr.BestFriendClustering()],
                         ids=lambda e: type(e).__name__)
def test_check_estimator(est):
    check_estimator(est)


def test_defaults_are_the_librarys():
    # Read from bfcr_fit_params_init (docs/python.md); spot-check a few against the header.
    p = bfcr.BFCRegressor().get_params()
    assert p["criterion"] == "bic" and p["routing"] == "sample" and p["regressor"] == "ridge"
    assert p["small"] == "auto" and p["level"] == 0 and p["lambda_steps"] == 37
    assert p["standardize"] is True and p["max_levels"] == 64
