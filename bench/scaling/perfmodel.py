"""A calibrated performance model of `bfcr fit`, projecting the measured points to
96 - 12,288 cores (the paper's range). Its output is a PROJECTION, not a measurement.

Two models live here:
  - the count-based model (round 11, countmodel.py; CLI below): each phase's items per
    rank counted at P = 1..32 (boundary queries, replicated levels, bytes, MPI calls),
    per-item costs from 1-rank runs, threads per rank. This is the projection to quote
    (bench/scaling/results/projection-round11.md).
  - the sweep's Amdahl model (below; summarize.py's report): fitted to the sweep's own
    points. Its serial shares f came from one 2-rank point on 2 shared cores (artifacts,
    not properties of the code), so the sweep now takes f from the code's layout
    (--model-f design, the default) unless asked otherwise.

usage: python3 bench/scaling/perfmodel.py counts [--counts FILE] [--alpha-us A]
           [--node-gbs B] [--cores-per-node C] [--socket S]

Model, per phase ph of the measured run (n rows, d features, P ranks):

  T(n, d, P) = sum_ph  W_ph(n, d) (r_ph(n) + (1 - r_ph(n)) / P)  +  B(n, d, P)  +  C(n, d, P)

  W_ph        the phase's one-rank work, a_ph n^b_ph (d / d_meas). a_ph, b_ph from the
              1-rank, 1-thread points: two sizes (strong n and weak n0) give the exponent
              b_ph = log(t2 / t1) / log(n2 / n1) (clamped to [0.8, 1.6]); with one size
              b_ph = 1 (1.1 for the level-0 search, O(n log n)). Work is taken linear in d:
              a rough guess (the kd-tree search grows faster with d, the ridge fits slower).
  r_ph(n)     the part that every rank repeats (does not shrink with P).
              Level phases (best friends of levels >= 1, components, summaries, order and
              metrics, Davies-Bouldin) walk the items of every level; bfcr keeps the
              first `dist_levels` levels distributed (level 0's rows on their owners: 1)
              and replicates the rest, so r is the share of the phase's items that lie in
              replicated levels, from the measured level sizes (fractions of n) at n. With
              `rep_items` set, a level is replicated only once it has at most that many
              nodes (the design's bound), so the replicated part stops growing with n.
              Other phases: from the measured multi-rank points that are not
              oversubscribed and were measured on a quiet machine (load <= cores + 1) by an
              Amdahl fit t_P / t_1 = r + (1 - r) / P, averaged; without any (or with
              --model-f design), 0 (they divide), the model save 1.
  C           communication (latency alpha, bandwidth 1/beta from the ping-pong or given),
              the busiest rank's messages, per distributed level l (m_l items, l = 0: n):
                items to their slab owners (Alltoallv):   (P-1) alpha + 8 (d+1) m_l/P beta
                pointer jumping, R rounds (Alltoallv):    R ((P-1) alpha + 16 m_l/P beta)
                next level's summaries by owner:          (P-1) alpha + 8 (d+4) m_{l+1}/P beta
              and once:
                the first replicated level's tables and summaries (Allgatherv):
                                                          log2(P) alpha + 8 (d+6) m_r beta
                answers of each replicated level's split search (Allgatherv, m >= 4096):
                                                          log2(P) alpha + 16 m beta
                rows into dendrogram order (Alltoallv):   (P-1) alpha + 8 (d+1) n/P beta
                CV routing rows to slabs (Alltoallv):     (P-1) alpha + 8 (d+2) n/P beta
                chosen-level models (Allgatherv):         log2(P) alpha + 8 (d+7) kc beta
                one small reduction per level:            L log2(P) alpha
              R = 5 (4 rounds measured at 1M rows; chains deepen slowly).

The model ignores memory-bandwidth limits of full nodes, network contention, load
imbalance and OS noise, so it is an optimistic bound on the shape of the curve.

  B(n, d, P)  the level-0 search's boundary queries on the busiest rank (boundary_seconds):
              the measured `knn_dist boundary` time at 2 ranks, scaled by the boundary
              queries per rank that bench_knn_dist measured at 2-32 ranks (d = 8 and 20;
              BOUNDARY_QUERIES) and by n^0.8. They do not shrink like n / P: with the cells
              of the recursive bisection (the code; --partition slabs for the former 1-D
              slabs) they fall slowly past 8 ranks at d = 8 and stay flat at d = 20."""

import argparse
import json
import math
import os
import sys

import countmodel
import stats

# Phases that walk the items of every level (value: the first level they walk); their
# replicated share follows the level sizes and how many levels are kept distributed.
LEVEL_PHASES = {"nn levels >= 1": 1, "davies-bouldin": 1, "components": 0, "summaries": 0,
                "order+metrics": 0}
SERIAL = ("model save",)
POINTER_ROUNDS = 5
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
              f_from="auto", dist_levels=None, rep_items=None, partition="kd"):
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
        if name == "nn level 0":  # divides; its boundary queries are the term B below
            phases[name] = {"a": a, "b": b, "exponent_from": how, "f": 0.0,
                            "f_from": "divides (boundary queries: term B)",
                            "seconds_ref": t_big}
            continue
        if name in LEVEL_PHASES:
            phases[name] = {"a": a, "b": b, "exponent_from": how, "f": None,
                            "f_from": "replicated levels' share of the items",
                            "first_level": LEVEL_PHASES[name], "seconds_ref": t_big}
            continue
        f_default = 1.0 if name in SERIAL else 0.0
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
    # Boundary queries of the level-0 search: the slowest rank's `knn_dist boundary` time
    # at the quiet 2-rank points (the anchor of boundary_seconds), at that point's n.
    bnd = []
    for p in points:
        ph = p["phases"].get("knn_dist boundary")
        if ph and p["ranks"] > 1 and p["threads"] == 1 and not p["oversubscribed"] and \
                quiet(p, cores):
            if p["ranks"] == 2:
                bnd.append((ph["median"], p["n"]))
    bnd_n = max(x[1] for x in bnd) if bnd else None
    bnd_sec = stats.median([x[0] for x in bnd if x[1] == bnd_n]) if bnd else None
    # Levels kept distributed: the run record's count (bfcr reports it), else level 0 only.
    if dist_levels is None:
        dist_levels = max([p.get("distributed_levels") or 1 for p in points] or [1])
    return {"n_ref": big["n"], "d_ref": big.get("d") or 8, "phases": phases,
            "dist_levels": dist_levels, "rep_items": rep_items,
            "partition": partition, "boundary_face_seconds": bnd_sec, "boundary_n": bnd_n,
            "level_fractions": lv_frac, "levels": len(levels),
            "k1_fraction": lv_frac[1] if len(lv_frac) > 1 else 0.0, "kc_fraction": kc_frac,
            "alpha": alpha, "beta": beta, "exchange_gbs": exch_gbs, "alpha_from": alpha_src, "beta_from": beta_src,
            "dgemm_gflops_1core": (roof or {}).get("dgemm", {}).get("gflops_1core")}


def level_sizes(m, n):
    """Items of every level at n rows: the measured fractions of n (level 0 = n), then
    levels shrinking 5x each (as blob levels do) until one node is left."""
    sizes = [f * n for f in m["level_fractions"]] or [float(n)]
    while sizes[-1] >= 5.0:
        sizes.append(sizes[-1] / 5.0)
    return sizes


def replicated_from(m, sizes):
    """The first replicated level: dist_levels, or with rep_items the first level with at
    most rep_items nodes (never before dist_levels)."""
    r = m["dist_levels"]
    if m.get("rep_items"):
        r = next((l for l, k in enumerate(sizes) if k <= m["rep_items"]), len(sizes))
    return max(1, min(r, len(sizes)))


def replicated_share(m, sizes, first):
    r = replicated_from(m, sizes)
    walked = sum(sizes[first:])
    return sum(sizes[max(first, r):]) / walked if walked > 0 else 0.0


def comm_seconds(m, n, d, p):
    if p <= 1:
        return 0.0
    a, b = m["alpha"], m["beta"]
    lg = math.ceil(math.log(p, 2))
    sizes = level_sizes(m, n)
    r = replicated_from(m, sizes)
    t = 0.0
    for l in range(r):  # distributed levels
        ml = sizes[l]
        nxt = sizes[l + 1] if l + 1 < len(sizes) else 1.0
        t += (p - 1) * a + 8.0 * (d + 1) * ml / p * b  # items to their slab owners
        t += POINTER_ROUNDS * ((p - 1) * a + 16.0 * ml / p * b)  # pointer jumping
        t += (p - 1) * a + 8.0 * (d + 4) * nxt / p * b  # next level's summaries by owner
    if r < len(sizes):
        t += lg * a + 8.0 * (d + 6) * sizes[r] * b  # first replicated level's tables, summaries
    for k in sizes[r:]:
        if k >= 4096:
            t += lg * a + 16.0 * k * b  # answers of the split search
    t += (p - 1) * a + 8.0 * (d + 1) * n / p * b  # rows into dendrogram order
    t += (p - 1) * a + 8.0 * (d + 2) * n / p * b  # CV routing rows to slabs
    t += lg * a + 8.0 * (d + 7) * m["kc_fraction"] * n * b  # chosen level's models
    t += len(sizes) * lg * a
    return t


# Boundary queries of the level-0 search on the busiest rank, measured with bench_knn_dist
# on its blob data at n = 400k (docs/knn-distributed.md, max over ranks, thousands), for
# the cells of the ranks' recursive bisection (the code) and the former 1-D slabs; d = 8
# and d = 20. Growth with n at fixed P: 400k -> 1.6M rows gives x3.1 (P = 8) and x2.9
# (P = 32) with cells: n^0.8.
BOUNDARY_QUERIES = {
    "kd": {8: {2: 19.0, 4: 29.8, 8: 34.3, 16: 24.1, 32: 25.7},
           20: {2: 23.4, 4: 68.7, 8: 69.6, 16: 77.2}},
    "slabs": {8: {2: 19.0, 4: 49.7, 8: 67.1, 16: 66.7, 32: 72.8},
              20: {2: 23.4, 8: 103.1}},
}
BOUNDARY_N_EXP = 0.8
BOUNDARY_N_REF = 400000


def _queries_at(table, p):
    """Queries per rank at p ranks: interpolated in log P; past the last measured P, the
    last octave's slope, never growing (optimistic where the measured count still grew)."""
    ps = sorted(table)
    if p <= ps[0]:
        return table[ps[0]]
    for a, b in zip(ps, ps[1:]):
        if p <= b:
            w = math.log(p / float(a)) / math.log(b / float(a))
            return math.exp((1 - w) * math.log(table[a]) + w * math.log(table[b]))
    a, b = ps[-2], ps[-1]
    slope = min(0.0, math.log(table[b] / table[a]) / math.log(b / float(a)))
    return table[b] * (p / float(b)) ** slope


def boundary_seconds(m, n, d, p):
    """The level-0 search's boundary queries on the busiest rank: the measured boundary
    time of the sweep's 2-rank point, scaled by the measured query counts per rank
    (BOUNDARY_QUERIES: interpolated between d = 8 and 20 in log d, clamped outside), by
    n^0.8 and by d for the cost of a query."""
    if p <= 1 or not m.get("boundary_face_seconds"):
        return 0.0
    tab = BOUNDARY_QUERIES[m.get("partition") or "kd"]
    q8, q20 = _queries_at(tab[8], p), _queries_at(tab[20], p)
    w = min(1.0, max(0.0, math.log(d / 8.0) / math.log(20 / 8.0)))
    q = math.exp((1 - w) * math.log(q8) + w * math.log(q20))
    q_ref = tab[8][2] * (m["boundary_n"] / float(BOUNDARY_N_REF)) ** BOUNDARY_N_EXP
    q *= (n / float(BOUNDARY_N_REF)) ** BOUNDARY_N_EXP
    return m["boundary_face_seconds"] * (q / q_ref) * (d / float(m["d_ref"]))


def predict(m, n, d, p):
    """(total seconds, compute seconds, communication seconds) at n rows, d features,
    p ranks of one core each."""
    comp = 0.0
    sizes = level_sizes(m, n)
    for ph in m["phases"].values():
        work = ph["a"] * n ** ph["b"] * (d / float(m["d_ref"]))
        f = ph["f"] if ph["f"] is not None else replicated_share(m, sizes, ph["first_level"])
        comp += work * (f + (1.0 - f) / p)
    comp += boundary_seconds(m, n, d, p)
    comm = comm_seconds(m, n, d, p)
    return comp + comm, comp, comm


def project(m, n0_weak, cores=CORES):
    """Rows of the projection table: strong (paper datasets and the measured size) and
    weak (n0 rows per core) at every core count, speedups against the first."""
    rows = []
    cases = [(name, v[0], v[1]) for name, v in PAPER.items()]
    cases.append(("Gas Sensor x 100", 100 * PAPER["Gas Sensor"][0], PAPER["Gas Sensor"][1]))
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


def main(argv=None):
    ap = argparse.ArgumentParser(description="bfcr performance models (PROJECTIONS)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("counts", help="the count-based model's inputs, laws and projection")
    c.add_argument("--counts", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "results", "counts-round11.json"))
    c.add_argument("--alpha-us", type=float, default=1.5,
                   help="MPI latency per message (default: InfiniBand HDR class, assumed)")
    c.add_argument("--node-gbs", type=float, default=12.5,
                   help="injection bandwidth per node, GB/s (default: HDR100, assumed)")
    c.add_argument("--cores-per-node", type=int, default=48)
    c.add_argument("--socket", type=int, default=24, help="threads per rank of the hybrid rows")
    a = ap.parse_args(argv)
    with open(a.counts) as f:
        recs = json.load(f)
    text, _ = countmodel.report(recs, a.alpha_us, a.node_gbs, a.cores_per_node, a.socket)
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
