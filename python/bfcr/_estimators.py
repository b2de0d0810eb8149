"""scikit-learn estimators on libbfcr: BFCRegressor and BestFriendClustering."""
import ctypes
import os
import tempfile
from ctypes import c_double, c_int, c_int64, c_void_p

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted

from . import _data, _layout, _lib
from ._lib import lib

# The library's defaults, read once from bfcr_fit_params_init / bfcr_tree_params_init.
_FIT_DEFAULTS = _lib.fit_params().as_dict()
_TREE_DEFAULTS = _lib.tree_params().as_dict()
_ENUM_NAMES = {k: {v: n for n, v in m.items()} for k, m in _layout.ENUMS.items()}


def _default(field):
    v = _FIT_DEFAULTS[field]
    if field in _ENUM_NAMES:
        return _ENUM_NAMES[field][v]
    return v


# Constructor parameter -> bfcr_fit_params field.
_PARAM_FIELDS = {
    "criterion": "criterion",
    "level": "level",
    "regressor": "regressor",
    "small": "small",
    "min_cluster_size": "min_cluster_size",
    "routing": "routing",
    "lambda_mode": "lambda_mode",
    "penalty": "lambda",
    "lambda_min": "lambda_min",
    "lambda_max": "lambda_max",
    "lambda_steps": "lambda_steps",
    "rcond": "rcond",
    "seed": "seed",
    "kernel_cap": "kernel_cap",
    "standardize": "tree.standardize",
    "max_levels": "tree.max_levels",
    "nn": "tree.nn_method",
    "all_metrics": "all_metrics",
    "guard_margin": "guard_margin",
    "select": "select",
    "folds": "folds",
    "shrink": "shrink",
}


def _enum_value(field, value):
    names = _layout.ENUMS[field]
    key = str(value).lower()
    if key not in names:
        raise ValueError("%s=%r: expected one of %s" % (field, value, ", ".join(names)))
    return names[key]


class _Handle:
    """Owns a C object; destroyed with its destroy function when collected."""

    def __init__(self, handle, destroy):
        self.handle = handle
        self._destroy = destroy

    def __del__(self):
        if self.handle and _lib is not None and lib is not None:
            self._destroy(ctypes.byref(self.handle))


def _model_bytes(ctx, model, comm=None):
    """The model file's bytes. Collective over comm: a model fitted on several ranks keeps
    its routing rows sharded, rank 0 writes the one file, and the bytes are broadcast."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.bfcr")
        with _lib.library_call():
            rc = lib.bfcr_model_save(ctx.handle, model, path.encode())
        _lib.check(ctx, rc)
        mpi = comm.comm if isinstance(comm, _lib.Comm) else comm
        if mpi is None or mpi.Get_size() == 1:
            with open(path, "rb") as f:
                return f.read()
        blob = None
        if mpi.Get_rank() == 0:
            with open(path, "rb") as f:
                blob = f.read()
        return mpi.bcast(blob, root=0)


def _load_handle(ctx, path):
    h = c_void_p()
    with _lib.library_call():
        rc = lib.bfcr_model_load(ctx.handle, os.fsencode(path), ctypes.byref(h))
    _lib.check(ctx, rc)
    return _Handle(h, lib.bfcr_model_destroy)


def _levels_table(count, info_fn):
    cols = ("level", "clusters", "min_size", "max_size", "hci", "ch", "db", "bic", "gcv",
            "within_ss")
    rows = []
    for lv in range(count):
        info = _lib.level_info()
        if info_fn(lv, info.ptr) != 0:
            raise _lib.BFCRError("level %d: no information" % lv)
        rows.append(info.as_dict())
    table = {}
    for c in cols:
        dt = np.float64 if c in ("hci", "ch", "db", "bic", "gcv", "within_ss") else np.int64
        table[c] = np.array([r[c] for r in rows], dtype=dt)
    return table


class BFCRegressor(RegressorMixin, BaseEstimator):
    """Best-friend-clustering regression (libbfcr): a summary tree of best-friend
    clusters, one level chosen, one model per cluster, new rows routed to a cluster.

    Every parameter defaults to the library's default (bfcr_fit_params_init); see
    docs/python.md and docs/models.md. threads: OpenMP threads (None = the library's
    default, 1; 0 = all). comm: an mpi4py communicator; each rank passes its own rows to
    fit and predict (collective), and the model is the one a single process would fit.
    """

    def __init__(self, criterion=_default("criterion"), level=_default("level"),
                 regressor=_default("regressor"), small=_default("small"),
                 min_cluster_size=_default("min_cluster_size"), routing=_default("routing"),
                 lambda_mode=_default("lambda_mode"), penalty=_default("lambda"),
                 lambda_min=_default("lambda_min"), lambda_max=_default("lambda_max"),
                 lambda_steps=_default("lambda_steps"), rcond=_default("rcond"),
                 seed=_default("seed"), kernel_cap=_default("kernel_cap"),
                 standardize=bool(_default("tree.standardize")),
                 max_levels=_default("tree.max_levels"), nn=_default("tree.nn_method"),
                 all_metrics=bool(_default("all_metrics")),
                 guard_margin=_default("guard_margin"), select=_default("select"),
                 folds=_default("folds"), shrink=_default("shrink"), threads=None,
                 comm=None):
        self.criterion = criterion
        self.level = level
        self.regressor = regressor
        self.small = small
        self.min_cluster_size = min_cluster_size
        self.routing = routing
        self.lambda_mode = lambda_mode
        self.penalty = penalty
        self.lambda_min = lambda_min
        self.lambda_max = lambda_max
        self.lambda_steps = lambda_steps
        self.rcond = rcond
        self.seed = seed
        self.kernel_cap = kernel_cap
        self.standardize = standardize
        self.max_levels = max_levels
        self.nn = nn
        self.all_metrics = all_metrics
        self.guard_margin = guard_margin
        self.select = select
        self.folds = folds
        self.shrink = shrink
        self.threads = threads
        self.comm = comm

    # ------------------------------------------------------------ helpers ----
    def _ctx(self):
        return _lib.context(self.comm, self.threads)

    def _c_params(self):
        p = _lib.fit_params()
        for name, field in _PARAM_FIELDS.items():
            v = getattr(self, name)
            if field in _layout.ENUMS:
                v = _enum_value(field, v)
            elif _layout.FIT_PARAMS[field][1] == "d":
                v = float(v)
            else:
                v = int(v)
            p[field] = v
        return p

    def _more_tags(self):
        return {"allow_nan": False}

    # ---------------------------------------------------------------- fit ----
    def fit(self, X, y):
        """Fit on X (n x d array or DataFrame; text columns are one-hot encoded) and y.
        Collective over comm. Returns self."""
        params = self._c_params()
        ctx = self._ctx()
        target = getattr(y, "name", None)
        target = str(target) if target is not None else None
        if _data.frame_has_text(X):
            self._check_feature_names(X, reset=True)
            self._check_n_features(X, reset=True)
            names, ncat, cats, Xe = _data.encode_frame_fit(X, self.comm)
            y = check_array(y, ensure_2d=False, dtype=np.float64, force_all_finite=False)
            if y.ndim != 1 or len(y) != len(Xe):
                raise ValueError("y must be 1-D with one value per row of X")
            cols = (names, ncat, cats)
        else:
            Xe, y = self._validate_data(X, y, y_numeric=True, dtype=np.float64, order="C",
                                        force_all_finite=False)
            cols = None
            if target is not None or hasattr(self, "feature_names_in_"):
                names = ([str(c) for c in self.feature_names_in_]
                         if hasattr(self, "feature_names_in_")
                         else ["x%d" % (j + 1) for j in range(Xe.shape[1])])
                cols = (names, [0] * len(names), [])
        with _data.Data(ctx, Xe, y, cols, target) as data:
            h = c_void_p()
            with _lib.library_call():
                rc = lib.bfcr_fit(ctx.handle, data.handle, params.ptr, ctypes.byref(h))
            _lib.check(ctx, rc)
        self._model = _Handle(h, lib.bfcr_model_destroy)
        self._set_fitted()
        return self

    def _set_fitted(self):
        m = self._model.handle
        schema = lib.bfcr_model_schema(m)
        self._columns = _data.schema_columns(schema)
        self._has_text = any(k == 1 for _, k, _ in self._columns)
        d = lib.bfcr_schema_features(schema)
        self.encoded_feature_names_ = np.array(
            [lib.bfcr_schema_feature_name(schema, j).decode() for j in range(d)], dtype=object)
        if not hasattr(self, "n_features_in_"):
            self.n_features_in_ = sum(1 for _, k, _ in self._columns if k in (0, 1))
        self.n_levels_ = lib.bfcr_model_num_levels(m)
        self.levels_ = _levels_table(self.n_levels_,
                                     lambda lv, p: lib.bfcr_model_level_info(m, lv, p))
        self.chosen_level_ = lib.bfcr_model_chosen_level(m)
        k = lib.bfcr_model_clusters(m)
        self.n_clusters_ = k
        coef = np.empty((k, d + 1))
        sizes = np.empty(k, dtype=np.int64)
        lam = np.empty(k)
        rank = np.empty(k, dtype=np.int32)
        s, la, r = c_int64(), c_double(), c_int()
        for c in range(k):
            rc = lib.bfcr_model_cluster(m, c, coef[c].ctypes.data_as(_lib.P_DBL),
                                        ctypes.byref(s), ctypes.byref(la), ctypes.byref(r))
            if rc != 0:
                raise _lib.BFCRError("cluster %d: no model" % c)
            sizes[c], lam[c], rank[c] = s.value, la.value, r.value
        self.cluster_sizes_ = sizes
        self.coef_ = coef[:, :d]
        self.intercept_ = coef[:, d].copy()
        self.cluster_lambda_ = lam
        self.cluster_rank_ = rank
        rmse, mae, r2 = c_double(), c_double(), c_double()
        lib.bfcr_model_train_scores(m, ctypes.byref(rmse), ctypes.byref(mae), ctypes.byref(r2))
        self.train_scores_ = {"rmse": rmse.value, "mae": mae.value, "r2": r2.value}
        self.n_pieces_ = lib.bfcr_model_pieces(m)
        used = _lib.fit_params(lib.bfcr_model_params(m)).as_dict()
        self.params_ = {name: (_ENUM_NAMES[f][used[f]] if f in _ENUM_NAMES else used[f])
                        for name, f in _PARAM_FIELDS.items()}

    # ------------------------------------------------------------ predict ----
    def _validated(self, X):
        check_is_fitted(self, "chosen_level_")
        if _data.is_frame(X):
            self._check_feature_names(X, reset=False)
            if self._has_text:
                return _data.encode_frame_predict(X, self._columns)
        elif self._has_text:
            raise ValueError("the model was fitted on a DataFrame with text columns: "
                             "predict needs a DataFrame with the same columns")
        return check_array(X, dtype=np.float64, order="C", force_all_finite=False)

    def _feature_error(self, e, X):
        d = len(self.encoded_feature_names_)
        if X.ndim == 2 and X.shape[1] != d:
            return _lib.BFCRValueError(
                "X has %d features, but %s is expecting %d features as input (%s)" %
                (X.shape[1], type(self).__name__, d, e), e.status)
        return e

    def predict(self, X):
        """Predictions for the rows of X (this rank's rows under comm; collective)."""
        X = self._validated(X)
        ctx = self._ctx()
        out = np.empty(X.shape[0])
        try:
            with _data.Data(ctx, X) as data:
                with _lib.library_call():
                    rc = lib.bfcr_predict(ctx.handle, self._model.handle, data.handle,
                                          out.ctypes.data_as(_lib.P_DBL))
                _lib.check(ctx, rc)
        except _lib.BFCRValueError as e:
            raise self._feature_error(e, X) from None
        return out

    def assign(self, X):
        """Cluster (at the chosen level) each row of X is routed to."""
        X = self._validated(X)
        ctx = self._ctx()
        out = np.empty(X.shape[0], dtype=np.int64)
        try:
            with _data.Data(ctx, X) as data:
                with _lib.library_call():
                    rc = lib.bfcr_model_assign(ctx.handle, self._model.handle, data.handle,
                                               out.ctypes.data_as(_lib.P_I64))
                _lib.check(ctx, rc)
        except _lib.BFCRValueError as e:
            raise self._feature_error(e, X) from None
        return out

    # ---------------------------------------------------------- save/load ----
    def save(self, path):
        """Write the model file (the app's format; rank 0 writes; collective)."""
        check_is_fitted(self, "chosen_level_")
        ctx = self._ctx()
        with _lib.library_call():
            rc = lib.bfcr_model_save(ctx.handle, self._model.handle, os.fsencode(path))
        _lib.check(ctx, rc)

    def to_bytes(self):
        """The model file's bytes (collective over comm: every rank gets them)."""
        check_is_fitted(self, "chosen_level_")
        return _model_bytes(self._ctx(), self._model.handle, self.comm)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["comm"] = None  # a communicator does not travel; reset on unpickling
        if "_model" in state:
            state["_model"] = self.to_bytes()
        return state

    def __setstate__(self, state):
        blob = state.pop("_model", None)
        self.__dict__.update(state)
        if blob is not None:
            self._model = _from_bytes(blob)


def _from_bytes(blob):
    ctx = _lib.context(None)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.bfcr")
        with open(path, "wb") as f:
            f.write(blob)
        return _load_handle(ctx, path)


def load(path, comm=None, threads=None):
    """A BFCRegressor from a model file written by save() or by the app
    (`bfcr fit -o model`). Collective over comm."""
    ctx = _lib.context(comm, threads)
    h = _load_handle(ctx, path)
    used = _lib.fit_params(lib.bfcr_model_params(h.handle)).as_dict()
    kw = {}
    for name, f in _PARAM_FIELDS.items():
        v = used[f]
        kw[name] = _ENUM_NAMES[f][v] if f in _ENUM_NAMES else v
    kw["standardize"] = bool(kw["standardize"])
    est = BFCRegressor(threads=threads, comm=comm, **kw)
    est._model = h
    cols = _data.schema_columns(lib.bfcr_model_schema(h.handle))
    names = [n for n, k, _ in cols if k in (0, 1)]
    has_text = any(k == 1 for _, k, _ in cols)
    plain = all(n == "x%d" % (j + 1) for j, n in enumerate(names))
    if has_text or not plain:
        est.feature_names_in_ = np.array(names, dtype=object)
    est.n_features_in_ = len(names)
    est._set_fitted()
    return est


class BestFriendClustering(ClusterMixin, BaseEstimator):
    """Best-friend clustering (the summary tree of libbfcr, no regression): every level
    of the hierarchy, its quality metrics, and the labels of every level.

    The level of labels_: `level` when > 0; else, when n_clusters is given, the lowest
    level with at most n_clusters clusters; else the best level by `criterion` (hci and
    ch maximised, db and bic minimised; as the app's `bfcr cluster`)."""

    def __init__(self, criterion="hci", level=0, n_clusters=None,
                 standardize=bool(_TREE_DEFAULTS["standardize"]),
                 max_levels=_TREE_DEFAULTS["max_levels"], threads=None, comm=None):
        self.criterion = criterion
        self.level = level
        self.n_clusters = n_clusters
        self.standardize = standardize
        self.max_levels = max_levels
        self.threads = threads
        self.comm = comm

    def fit(self, X, y=None):
        """Build the tree of X (collective over comm). y is ignored."""
        crit = _enum_value("criterion", self.criterion)
        if crit == _layout.ENUMS["criterion"]["gcv"]:
            raise ValueError("criterion='gcv' needs a target: use BFCRegressor")
        p = _lib.tree_params()
        p["standardize"] = int(bool(self.standardize))
        p["max_levels"] = int(self.max_levels)
        ctx = _lib.context(self.comm, self.threads)
        if _data.frame_has_text(X):
            self._check_feature_names(X, reset=True)
            self._check_n_features(X, reset=True)
            names, ncat, cats, Xe = _data.encode_frame_fit(X, self.comm)
            cols = (names, ncat, cats)
        else:
            Xe = self._validate_data(X, dtype=np.float64, order="C", force_all_finite=False)
            cols = None
        with _data.Data(ctx, Xe, None, cols) as data:
            h = c_void_p()
            with _lib.library_call():
                rc = lib.bfcr_tree_build(ctx.handle, data.handle, p.ptr, ctypes.byref(h))
            _lib.check(ctx, rc)
        tree = _Handle(h, lib.bfcr_tree_destroy)
        nl = lib.bfcr_tree_num_levels(h)
        self.n_levels_ = nl
        self.levels_ = _levels_table(nl, lambda lv, ptr: lib.bfcr_tree_level_info(h, lv, ptr))
        labels = np.empty((nl, Xe.shape[0]), dtype=np.int64)
        for lv in range(nl):
            _lib.check(ctx, lib.bfcr_tree_labels(h, lv, labels[lv].ctypes.data_as(_lib.P_I64)))
        self.level_labels_ = labels
        self.chosen_level_ = self._choose(crit)
        self.labels_ = labels[self.chosen_level_]
        self.n_clusters_ = int(self.levels_["clusters"][self.chosen_level_])
        del tree
        return self

    def _choose(self, crit):
        nl, clusters = self.n_levels_, self.levels_["clusters"]
        top = nl - 1
        if self.level:
            if not 0 < self.level <= top:
                raise ValueError("level=%d: the tree has levels 1..%d" % (self.level, top))
            return int(self.level)
        if self.n_clusters is not None:
            if int(self.n_clusters) < 1:
                raise ValueError("n_clusters=%r: expected at least 1" % self.n_clusters)
            for lv in range(nl):
                if clusters[lv] <= self.n_clusters:
                    return lv
            return top
        name = _ENUM_NAMES["criterion"][crit]
        vals = self.levels_[name]
        maximise = name in ("hci", "ch")
        best = -1
        for lv in range(1, nl):
            v = vals[lv]
            if clusters[lv] < 2 or not np.isfinite(v):
                continue
            if best < 0 or (v > vals[best] if maximise else v < vals[best]):
                best = lv
        return best if best >= 0 else top
