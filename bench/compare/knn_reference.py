#!/usr/bin/python3
"""Reference peers for docs/reproduction.md: k-NN regression and a global linear/ridge
model from scikit-learn (the Debian package python3-sklearn), on the same train/test
files that bfcr uses. Features are standardized on the training rows; k is chosen by
5-fold cross-validation on the training rows only (never on the test rows).

Usage: /usr/bin/python3 bench/compare/knn_reference.py TRAIN.csv TEST.csv TARGET
Prints one line per model: name, chosen parameter, test RMSE, R^2.
"""
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(train_path, test_path, target):
    train, test = pd.read_csv(train_path), pd.read_csv(test_path)
    feats = [c for c in train.columns if c != target]
    Xtr, ytr = train[feats].to_numpy(float), train[target].to_numpy(float)
    Xte, yte = test[feats].to_numpy(float), test[target].to_numpy(float)
    cv = KFold(5, shuffle=True, random_state=1)
    knn = GridSearchCV(
        make_pipeline(StandardScaler(), KNeighborsRegressor()),
        {"kneighborsregressor__n_neighbors": [1, 2, 3, 5, 7, 10, 15, 20, 30, 50]},
        cv=cv, scoring="neg_root_mean_squared_error").fit(Xtr, ytr)
    models = [
        ("knn", "k=%d" % knn.best_params_["kneighborsregressor__n_neighbors"], knn),
        ("linear", "-", make_pipeline(StandardScaler(), LinearRegression()).fit(Xtr, ytr)),
        ("ridge_cv", "", make_pipeline(StandardScaler(),
                                       RidgeCV(alphas=np.logspace(-4, 5, 37))).fit(Xtr, ytr)),
    ]
    for name, param, m in models:
        if name == "ridge_cv":
            param = "alpha=%.3g" % m[-1].alpha_
        p = m.predict(Xte)
        print("%-9s %-12s test RMSE %.6g  R^2 %.4f  (train %d, test %d rows)" % (
            name, param, mean_squared_error(yte, p) ** 0.5, r2_score(yte, p), len(ytr), len(yte)))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
