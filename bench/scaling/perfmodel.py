"""A calibrated performance model of `bfcr fit`, projecting the measured points to
96 - 12,288 cores (the paper's range). Its output is a PROJECTION, not a measurement.

Model, per phase ph of the measured run (n rows, d features, P ranks):

  T(n, d, P) = sum_ph  a_ph n^b_ph (d / d_meas) (f_ph + (1 - f_ph) / P)  +  C(n, d, P)

  a_ph, b_ph  compute: from the 1-rank, 1-thread points. Two sizes (strong n and weak n0)
              give the exponent b_ph = log(t2 / t1) / log(n2 / n1) (clamped to
              [0.8, 1.6]); with one size b_ph = 1 (1.1 for the level-0 search,
              O(n log n)). Work is taken linear in d: a rough guess (the level-0
              kd-tree search grows faster with d, the per-cluster ridge slower).
  f_ph        the part that does not shrink with the rank count. From the measured
              multi-rank points that are not oversubscribed and were measured on a quiet
              machine (load average <= cores + 1; contention from other work would read
              as serial time) by an Amdahl fit t_P / t_1 = f + (1 - f) / P, averaged;
              without any (or with --model-f design), bfcr's design:
              levels >= 1 (nn levels >= 1, components, summaries, order+metrics) and
              the model save are replicated or rank-0 work (f = 1), the rest divides.
  C           communication of the distributed level 0 and the reductions, with
              latency alpha and bandwidth 1/beta (ping-pong, or given):
                rows to their slab owner (Alltoallv):  (P-1) alpha + 8 (d+1) n/P beta
                best friends replicated (Allgatherv): log2(P) alpha + 16 n beta
                rows into level-1 order (Alltoallv):  (P-1) alpha + 8 (d+1) n/P beta
                level-1 summaries (Allgatherv):        log2(P) alpha + 8 w k1 beta
                chosen-level models (Allgatherv):     log2(P) alpha + 8 (d+7) kc beta
                  (its regression summaries stay on their owners: P - 1 straddling
                  nodes, a few words per rank, not modelled)
                one small reduction per level:        L log2(P) alpha
              w = 2 + d + (d+1)(d+2)/2 doubles per node summary; k1, kc and L are
              the measured level sizes scaled with n.

The model ignores memory-bandwidth limits of full nodes, network contention, load
imbalance and OS noise, so it is an optimistic bound on the shape of the curve."""

import math

import stats

REPLICATED = ("nn levels >= 1", "components", "summaries", "order+metrics", "model save")
PAPER = {
    # name: (train rows, d, cores, speedup 96 -> 12,288, seconds at 96, seconds at 12,288)
    "cadata": (18432, 8, 1.59, 2.3, 1.5),
    "Gas Sensor": (4095000, 20, 7.92, 1800.0, 230.0),
}
CORES = [96, 192, 384, 768, 1536, 3072, 6144, 12288]


def _ref_points(points):
    return [p for p in points if p["ranks"] == 1 and p["threads"] == 1 and p["wall_median"]]


def quiet(p, cores):
    """A point measured without outside load: its median 1-minute load average before
    the runs was at most the cores plus one (our own previous run decaying)."""
    load = p.get("loadavg_median")
    return load is None or not cores or load <= cores + 1.0


def calibrate(points, phase_names, roof, pingpong, alpha_us=None, beta_gbs=None, cores=None,
              f_from="auto"):
    refs = _ref_points(points)
    if not refs:
        return None
    big = max(refs, key=lambda p: p["n"])
    small = min(refs, key=lambda p: p["n"])
    phases = {}
    for name in phase_names:
        if stats.parent_of(name) or name not in big["phases"]:
            continue
        t_big = big["phases"][name]["median"]
        b = 1.1 if name == "nn level 0" else 1.0
        how = "default"
        if small["n"] != big["n"] and name in small["phases"]:
            t_small = small["phases"][name]["median"]
            if t_small > 1e-3 and t_big > 1e-3:
                b = math.log(t_big / t_small) / math.log(big["n"] / float(small["n"]))
                b = min(1.6, max(0.8, b))
                how = "fit n=%d,%d" % (small["n"], big["n"])
        a = t_big / big["n"] ** b
        f_default = 1.0 if name in REPLICATED else 0.0
        fs, loud = [], 0
        for p in points:
            if (f_from == "design" or p["mode"] != big["mode"] or p["threads"] != 1
                    or p["ranks"] < 2 or p["oversubscribed"] or not p["wall_median"]
                    or name not in p["phases"]):
                continue
            if f_from == "auto" and not quiet(p, cores):
                loud += 1
                continue
            base = [q for q in refs if q["mode"] == p["mode"] and q["n"] == p["n"]]
            if not base or base[0]["phases"].get(name, {}).get("median", 0) < 1e-3:
                continue
            s = p["phases"][name]["median"] / base[0]["phases"][name]["median"]
            inv = 1.0 / p["ranks"]
            fs.append(min(1.0, max(0.0, (s - inv) / (1.0 - inv))))
        f = sum(fs) / len(fs) if fs else f_default
        if fs:
            f_why = "measured (%d points)" % len(fs)
        elif loud:
            f_why = "design default (multi-rank points measured under load)"
        else:
            f_why = "design default"
        phases[name] = {"a": a, "b": b, "exponent_from": how, "f": f, "f_from": f_why,
                        "seconds_ref": t_big}
    levels = big.get("levels") or []
    lv_frac = [k / float(big["n"]) for k in levels]
    # Effective bandwidth of the measured level-1 row exchange (Alltoallv of (d + 1)
    # doubles per row, (P - 1) / P of them leaving each rank), for comparison.
    exch = []
    for p in points:
        ph = p["phases"].get("exchange")
        if ph and ph["median"] > 0 and p["ranks"] > 1 and not p["oversubscribed"]:
            d = p.get("d") or 8
            moved = 8.0 * (d + 1) * p["n"] / p["ranks"] * (p["ranks"] - 1) / p["ranks"]
            exch.append(moved / ph["median"] * 1e-9)
    exch_gbs = stats.median(exch)
    alpha_src = beta_src = "default"
    alpha = 1.5e-6
    beta = 1.0 / 10e9
    if exch_gbs:
        beta, beta_src = 1.0 / (exch_gbs * 1e9), "exchange phase"
    if pingpong and pingpong.get("pingpong"):
        alpha = pingpong["pingpong"]["latency_us"] * 1e-6
        beta = 1.0 / (pingpong["pingpong"]["bandwidth_gbs"] * 1e9)
        alpha_src = beta_src = "ping-pong"
    if alpha_us is not None:
        alpha, alpha_src = alpha_us * 1e-6, "given"
    if beta_gbs is not None:
        beta, beta_src = 1.0 / (beta_gbs * 1e9), "given"
    chosen = big.get("chosen_level")
    kc_frac = lv_frac[chosen] if chosen is not None and chosen < len(lv_frac) else 0.0
    return {"n_ref": big["n"], "d_ref": big.get("d") or 8, "phases": phases,
            "level_fractions": lv_frac, "levels": len(levels),
            "k1_fraction": lv_frac[1] if len(lv_frac) > 1 else 0.0, "kc_fraction": kc_frac,
            "alpha": alpha, "beta": beta, "exchange_gbs": exch_gbs, "alpha_from": alpha_src, "beta_from": beta_src,
            "dgemm_gflops_1core": (roof or {}).get("dgemm", {}).get("gflops_1core")}


def comm_seconds(m, n, d, p):
    if p <= 1:
        return 0.0
    a, b = m["alpha"], m["beta"]
    lg = math.ceil(math.log(p, 2))
    w = 2 + d + (d + 1) * (d + 2) / 2.0
    t = (p - 1) * a + 8.0 * (d + 1) * n / p * b  # rows to their slab owners
    t += lg * a + 16.0 * n * b  # best friends replicated on every rank
    t += (p - 1) * a + 8.0 * (d + 1) * n / p * b  # rows into level-1 order (Alltoallv)
    t += lg * a + 8.0 * w * m["k1_fraction"] * n * b  # level-1 node summaries
    t += lg * a + 8.0 * (d + 7) * m["kc_fraction"] * n * b  # chosen level's models replicated
    # Levels grow with log n (each level shrinks the count about 5x on blob data).
    levels = max(m["levels"], 1) + max(0, int(round(math.log(n / float(m["n_ref"]), 5))))
    t += levels * lg * a
    return t


def predict(m, n, d, p):
    """(total seconds, compute seconds, communication seconds) at n rows, d features,
    p ranks of one core each."""
    comp = 0.0
    for ph in m["phases"].values():
        work = ph["a"] * n ** ph["b"] * (d / float(m["d_ref"]))
        comp += work * (ph["f"] + (1.0 - ph["f"]) / p)
    comm = comm_seconds(m, n, d, p)
    return comp + comm, comp, comm


def project(m, n0_weak, cores=CORES):
    """Rows of the projection table: strong (paper datasets and the measured size) and
    weak (n0 rows per core) at every core count, speedups against the first."""
    rows = []
    cases = [(name, v[0], v[1]) for name, v in PAPER.items()]
    cases.append(("blobs (measured n)", m["n_ref"], m["d_ref"]))
    for name, n, d in cases:
        t0 = predict(m, n, d, cores[0])[0]
        for c in cores:
            t, comp, comm = predict(m, n, d, c)
            rows.append({"kind": "strong", "case": name, "n": n, "d": d, "cores": c,
                         "seconds": t, "compute": comp, "comm": comm,
                         "speedup": t0 / t, "ideal": c / float(cores[0]),
                         "efficiency": t0 / t / (c / float(cores[0]))})
    if n0_weak:
        d = m["d_ref"]
        t0 = predict(m, n0_weak * cores[0], d, cores[0])[0]
        for c in cores:
            t, comp, comm = predict(m, n0_weak * c, d, c)
            rows.append({"kind": "weak", "case": "blobs n0=%d per core" % n0_weak,
                         "n": n0_weak * c, "d": d, "cores": c, "seconds": t, "compute": comp,
                         "comm": comm, "speedup": t0 / t * c / cores[0],
                         "ideal": c / float(cores[0]), "efficiency": t0 / t})
    return rows


def at_measured(m, points):
    """The model beside every measured point (ranks only: threads are not modelled)."""
    out = []
    for p in points:
        if not p["wall_median"]:
            continue
        t = predict(m, p["n"], p.get("d") or m["d_ref"], p["ranks"] * p["threads"])[0]
        out.append({"mode": p["mode"], "ranks": p["ranks"], "threads": p["threads"],
                    "n": p["n"], "measured": p["wall_median"], "model": t,
                    "oversubscribed": p["oversubscribed"]})
    return out
