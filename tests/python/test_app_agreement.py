"""Python and the app agree: same predictions (1e-12 relative) on every shipped dataset
with default settings, and byte-identical model files where the schema can match (the
target is the file's last column)."""
import os

import numpy as np
import pytest

import bfcr
from conftest import TARGETS, DATA, app, read_csv


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_predictions_equal_app(name, tmp):
    target = TARGETS[name]
    csv = os.path.join(DATA, name + ".csv")
    model = str(tmp / "app.bfcr")
    pred = str(tmp / "pred.csv")
    app("fit", csv, "--target", target, "-o", model)
    app("predict", model, csv, "-o", pred)
    want = np.loadtxt(pred, delimiter=",", skiprows=1)

    df = read_csv(name)
    y = df.pop(target)
    est = bfcr.BFCRegressor().fit(df, y)
    got = est.predict(df)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)

    # The app's model loaded in Python predicts the same, and the fits agree.
    loaded = bfcr.load(model)
    np.testing.assert_allclose(loaded.predict(df), want, rtol=1e-12, atol=0)
    assert loaded.chosen_level_ == est.chosen_level_
    np.testing.assert_array_equal(loaded.cluster_sizes_, est.cluster_sizes_)

    if list(read_csv(name).columns)[-1] == target:
        mine = str(tmp / "py.bfcr")
        est.save(mine)
        with open(mine, "rb") as a, open(model, "rb") as b:
            assert a.read() == b.read(), "model files differ"


def test_text_columns_keep_categories(tmp):
    df = read_csv("cps1988")
    y = df.pop("wage")
    est = bfcr.BFCRegressor().fit(df, y)
    assert "region=northeast" in list(est.encoded_feature_names_)
    # A category unseen at fit is encoded as all zeros, with a warning (as the reader does).
    part = df.iloc[:50].copy()
    part["region"] = "atlantis"
    with pytest.warns(UserWarning, match="unseen"):
        est.predict(part)
