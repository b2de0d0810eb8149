"""save/load, pickling, fitted attributes, the routing cache."""
import pickle

import numpy as np
import pytest

import bfcr


def blobs(n=3000, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8, size=(12, d))
    c = rng.integers(0, 12, size=n)
    X = centres[c] + rng.normal(size=(n, d))
    y = np.einsum("ij,ij->i", X, rng.normal(size=(12, d))[c]) + rng.normal(size=n) * 0.1
    return X, y


def test_save_load_round_trip(tmp):
    X, y = blobs()
    est = bfcr.BFCRegressor(criterion="hci").fit(X, y)
    path = str(tmp / "m.bfcr")
    est.save(path)
    back = bfcr.load(path)
    assert back.criterion == "hci" and back.chosen_level_ == est.chosen_level_
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.coef_, est.coef_)
    path2 = str(tmp / "m2.bfcr")
    back.save(path2)
    assert open(path, "rb").read() == open(path2, "rb").read()
    # The same fit twice gives the same bytes.
    assert bfcr.BFCRegressor(criterion="hci").fit(X, y).to_bytes() == est.to_bytes()


def test_pickle():
    X, y = blobs()
    est = bfcr.BFCRegressor().fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.get_params() == est.get_params()


def test_fitted_attributes():
    X, y = blobs()
    est = bfcr.BFCRegressor().fit(X, y)
    lv = est.levels_
    assert lv["clusters"][0] == len(X) and lv["clusters"][-1] == 1
    assert est.cluster_sizes_.sum() == len(X)
    assert est.n_clusters_ == lv["clusters"][est.chosen_level_]
    assert est.coef_.shape == (est.n_clusters_, X.shape[1])
    assert set(est.train_scores_) == {"rmse", "mae", "r2"}
    assert est.params_["min_cluster_size"] == X.shape[1] + 2  # automatic value resolved
    labels = est.assign(X)
    assert labels.min() >= 0 and labels.max() < est.n_clusters_


@pytest.mark.parametrize("routing", ["sample", "centroid"])
def test_route_cache_is_bit_identical(routing, tmp):
    # The first predict builds the routing kd-tree inside the model; later calls reuse it.
    # A freshly loaded model (no cache) must give the same bits, in any batch split.
    X, y = blobs()
    est = bfcr.BFCRegressor(routing=routing).fit(X, y)
    Q, _ = blobs(n=700, seed=1)
    first = est.predict(Q)
    again = est.predict(Q)
    path = str(tmp / "m.bfcr")
    est.save(path)
    fresh = bfcr.load(path)
    one_by_one = np.concatenate([fresh.predict(Q[i:i + 1]) for i in range(len(Q))])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, one_by_one)
    np.testing.assert_array_equal(bfcr.load(path).predict(Q), first)


def test_clustering_levels():
    X, _ = blobs()
    cl = bfcr.BestFriendClustering().fit(X)
    assert cl.level_labels_.shape == (cl.n_levels_, len(X))
    np.testing.assert_array_equal(np.sort(cl.level_labels_[0]), np.arange(len(X)))
    assert (cl.level_labels_[-1] == 0).all()
    for lv in range(cl.n_levels_):
        assert len(np.unique(cl.level_labels_[lv])) == cl.levels_["clusters"][lv]
    k = bfcr.BestFriendClustering(n_clusters=20).fit(X)
    assert k.n_clusters_ <= 20
    np.testing.assert_array_equal(bfcr.BestFriendClustering(level=2).fit_predict(X),
                                  cl.level_labels_[2])


def test_threads_share_a_model():
    # The GIL is released during library calls (ctypes.CDLL, not PyDLL), so Python threads
    # may predict at once, each on its own context; the first calls race to build the
    # routing cache, which is built once. Results equal the sequential ones.
    import ctypes
    import threading
    assert not bfcr._lib.lib._func_flags_ & ctypes._FUNCFLAG_PYTHONAPI
    X, y = blobs()
    est = bfcr.BFCRegressor().fit(X, y)
    Q, _ = blobs(n=400, seed=2)
    out = [None] * 4
    errors = []

    def work(i):
        try:
            out[i] = est.predict(Q[i * 100:(i + 1) * 100])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    seq = est.predict(Q)
    np.testing.assert_array_equal(np.concatenate(out), seq)
