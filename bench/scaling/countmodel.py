"""The count-based performance model of `bfcr fit` (round 11). Its output is a PROJECTION.

What each rank does at P ranks is counted, not inferred from times: bench/scaling/counts.py
measures, oversubscribed up to P = 32 on small n (counts do not depend on the load),
  - level 0 (bench_knn_dist): the busiest rank's rows searched and boundary queries
    answered; fitted law  q = exp(k0) r^k1 P^k2  (r = n / P rows per rank);
  - every phase of `bfcr fit` (BFCR_TRAFFIC_PHASES): the busiest rank's bytes, fitted
    bytes = A0 + A1 n + B n / P (A1 n: what does not divide), and its MPI calls by
    latency class (all-to-all, gather/bcast, reduce/scan, point-to-point), fitted
    c0 + c1 log2 P + c2 P;
  - the level sizes and the run record's `distributed_levels` (levels above the 4 MiB
    replication bound m (d + 4) 8 B are held in chunks, the rest replicated on every rank).
Per-item costs (seconds on one core) come from the 1-rank runs: bench_knn_dist's CPU
seconds of the local pass per row (law u r^v, held at the largest measured r beyond it)
and of the boundary pass per answered query (the oversubscribed points, whose idle ranks
do not poll), and each `bfcr fit` phase's share of the run's CPU seconds divided by the
items the phase walks. What each phase walks, from the code's layout (the comments
of lib/model/cv_dist.c, lib/tree/tree.h, lib/model/fit.c):
  row phases (read, standardize, regression summaries, model fit, cv: *, score):
      n / P rows;
  level phases (components, summaries, order+metrics from level 0; nn levels >= 1,
      davies-bouldin from level 1): sum of m_l / P over the distributed levels plus
      sum of m_l over the replicated ones (every rank walks those);
  nn level 0: local search of n / P rows + boundary queries q(n / P, P).
Time of a rank = sum over phases of cost x items / thread speed-up  +  communication:
      all-to-all calls (R - 1) alpha, gather/bcast calls ceil(log2 R) alpha, reductions
      2 ceil(log2 R) alpha, point-to-point calls alpha (the fold models' chain: R alpha),
      + bytes / (bandwidth per rank).
Threads (hybrid: R ranks x t threads) divide a rank's work by Amdahl's law with the share
of a 1-rank, 2-thread fit's CPU that ran on one thread (per-thread CPU seconds: the load
does not matter; beyond 2 threads an extrapolation), and leave the communication to the R
ranks. The network is not this machine's: alpha and the node bandwidth are given
(defaults: an InfiniBand HDR100-class figure, assumed), shared by the ranks of a node.
The kernel-ridge candidates are counted only where their fixed part fits their budget
(at Gas Sensor size it does not: the fit takes the ridge path).

usage: python3 bench/scaling/perfmodel.py counts [--counts F.json] [--alpha-us A]
           [--node-gbs B] [--cores-per-node C] [--socket S]"""

import math

import stats

ROW_PHASES = ("read", "standardize", "regression summaries", "model fit", "cv: routing",
              "cv: fold models", "cv: scoring", "cv: shrinkage", "score", "model save")
LEVEL_FIRST = {"components": 0, "summaries": 0, "order+metrics": 0, "nn levels >= 1": 1,
               "davies-bouldin": 1}
CHAIN_P2P = ("cv: fold models",)
KCV = "cv: kernel candidates"  # replicated O(n) part; skipped when over its budget
KCV_BUDGET = 7.0  # a rank-to-rank chain: its hops are sequential
REP_BYTES = 4 << 20  # lib/tree/tree.h BFCR_TREE_REP_BYTES


def rep_max(d):
    return REP_BYTES // (8 * (d + 4))


def lstsq(rows, ys):
    """Least squares of ys on the columns of rows (normal equations; tiny systems)."""
    k = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    b = [sum(r[i] * y for r, y in zip(rows, ys)) for i in range(k)]
    for i in range(k):  # Gauss-Jordan with partial pivoting
        p = max(range(i, k), key=lambda j: abs(a[j][i]))
        a[i], a[p], b[i], b[p] = a[p], a[i], b[p], b[i]
        for j in range(k):
            if j != i and a[i][i]:
                f = a[j][i] / a[i][i]
                a[j] = [x - f * y for x, y in zip(a[j], a[i])]
                b[j] -= f * b[i]
    return [b[i] / a[i][i] if a[i][i] else 0.0 for i in range(k)]


def boundary_law(knn):
    """q (boundary queries answered by the busiest rank) = exp(k0) r^k1 P^k2 over the P >= 2
    points; returns the coefficients and the largest ratio model / measured (spread)."""
    pts = [(r["result"]["max_slab"], r["P"], r["result"]["answered_max"]) for r in knn
           if r["P"] >= 2 and r["result"]["answered_max"] > 0]
    rows = [[1.0, math.log(s), math.log(p)] for s, p, _ in pts]
    k = lstsq(rows, [math.log(q) for _, _, q in pts])
    ratios = [math.exp(k[0]) * s ** k[1] * p ** k[2] / q for s, p, q in pts]
    return {"k0": k[0], "k1": k[1], "k2": k[2], "points": len(pts),
            "spread": [min(ratios), max(ratios)]}


def local_law(knn):
    """CPU seconds per row of the local pass (kd-tree build + search): u r^v, from the 1-
    and 2-rank points (least squares in logs; a power law stays positive outside)."""
    pts = [(r["result"]["max_slab"], r["result"]["cpu_local_max"] / r["result"]["max_slab"])
           for r in knn if r["P"] <= 2 and r["result"]["cpu_local_max"] > 0]
    if len(pts) < 2:
        return {"u": pts[0][1] if pts else 0.0, "v": 0.0, "points": len(pts)}
    lu, v = lstsq([[1.0, math.log(s)] for s, _ in pts], [math.log(c) for _, c in pts])
    return {"u": math.exp(lu), "v": v, "points": len(pts), "r_max": max(s for s, _ in pts)}


def boundary_cost(knn):
    """CPU seconds of the boundary pass per answered query: the median over the
    oversubscribed points (P >= 4 on 2 cores), whose idle ranks yield the core instead of
    polling (at P = 2 Open MPI polls, and the CPU seconds include the wait)."""
    c = [r["result"]["cpu_remote_max"] / r["result"]["answered_max"] for r in knn
         if r["P"] >= 4 and r["result"]["answered_max"] > 0]
    return stats.median(c) or 0.0


def top(name):
    return stats.parent_of(name) or name


def phase_costs(ones, twos):
    """Per-item CPU seconds of every top-level phase of the 1-rank, 1-thread fits (median
    over repeats): the phase's wall seconds scaled by its run's CPU / wall (a loaded
    machine stretches every phase alike), divided by the items it walks; and the 1 -> 2
    thread speed-up per phase: the best 1-thread wall time over the best 2-thread one."""
    fit1 = ones[0]
    n = float(fit1["rows"])
    lv = [float(m) for m in fit1["levels"]] or [n]
    out = {}
    for name in fit1["phases"]:
        if stats.parent_of(name):
            continue
        cpus = [f["phases"][name] * min(1.0, f["cpu_seconds_all_ranks"] / f["wall_seconds"])
                for f in ones if f["phases"].get(name) is not None]
        cpu = stats.median(cpus) or 0.0
        if name in LEVEL_FIRST:
            items, kind = sum(lv[LEVEL_FIRST[name]:]) or 1.0, "level"
        elif name == "nn level 0":
            items, kind = n, "nn0"
        elif name == KCV:
            items, kind = n, "kcv"
        else:
            items, kind = n, "row"
        w1 = [f["phases"][name] for f in ones if f["phases"].get(name)]
        w2 = [f["phases"][name] for f in twos if f["phases"].get(name)]
        s2 = min(w1) / min(w2) if w1 and w2 else None
        out[name] = {"cost": cpu / items, "kind": kind, "cpu_seconds": cpu, "items": items,
                     "speedup2_wall": s2, "repeats": (len(w1), len(w2))}
    scale = stats.median([min(1.0, f["cpu_seconds_all_ranks"] / f["wall_seconds"])
                          for f in ones])
    # The whole run's 1 -> 2 thread speed-up (best of the repeats each way): the per-phase
    # ratios scatter too much on a loaded machine to be used one by one.
    s2 = (min(f["wall_seconds"] for f in ones) / min(f["wall_seconds"] for f in twos)
          if twos else 1.0)
    return out, scale, s2


def kcv_runs(n, d, levels):
    """Whether the kernel candidates run beyond their estimate: their fixed part (every
    rank holds all rows: n (T (d + 2)^2 / 2 + 6000) ns, lib/model/cv_kernel.c) within the
    default budget of 7 s (BFCR_KCV_BUDGET_DEFAULT)."""
    T = max(1, levels - 1)
    return n * (T * (d + 2) ** 2 / 2.0 + 6000.0) * 1e-9 <= KCV_BUDGET


def comm_laws(fits):
    """Per top-level phase: bytes of the busiest rank = A0 + A1 n + B n / P (least squares
    over the P >= 2 points; with one n, A0 = 0: the part that does not divide is taken to
    grow with n, the pessimistic reading), clipped at 0, and its calls of each class at the
    largest n (the largest P's count plus its growth per doubling of P)."""
    pts = sorted([f for f in fits if f["P"] >= 2], key=lambda f: (f["rows"], f["P"]))
    sizes = sorted({f["rows"] for f in pts})
    names = []
    for f in pts:
        for k in list(f["bytes_max"]) + list(f["calls_max"]):
            if top(k) not in names and not k.startswith("("):
                names.append(top(k))
    laws = {}
    for name in names:
        by, calls = [], []
        for f in pts:
            b = sum(v for k, v in f["bytes_max"].items() if top(k) == name)
            c = [0.0] * 4
            for k, v in f["calls_max"].items():
                if top(k) == name:
                    c = [x + y for x, y in zip(c, v)]
            by.append((float(f["rows"]), f["P"], b))
            if f["rows"] == sizes[-1]:
                calls.append((f["P"], c))
        if len(sizes) >= 2:
            A0, A1, B = lstsq([[1.0, n, n / p] for n, p, _ in by], [b for _, _, b in by])
        else:
            A1, B = lstsq([[n, n / p] for n, p, _ in by], [b for _, _, b in by])
            A0 = 0.0
        A0, A1, B = max(0.0, A0), max(0.0, A1), max(0.0, B)
        # Calls of each class: c0 + c1 log2 P + c2 P (a ring's steps grow with P), least
        # squares over the measured P, coefficients clipped at 0.
        law_c = []
        for k in range(4):
            ys = [c[k] for _, c in calls]
            if len(calls) >= 3:
                co = lstsq([[1.0, math.log2(p), float(p)] for p, _ in calls], ys)
            else:
                co = [ys[-1], 0.0, 0.0]
            law_c.append([max(0.0, x) for x in co])
        laws[name] = {"A0": A0, "A1": A1, "B": B, "calls": calls[-1][1],
                      "calls_P": calls[-1][0], "calls_law": law_c, "sizes": sizes}
    return laws


def level_sizes(fractions, n):
    sizes = [f * n for f in fractions] or [float(n)]
    ratio = sizes[-1] / sizes[-2] if len(sizes) > 1 and sizes[-2] > 0 else 0.2
    ratio = min(0.5, max(0.02, ratio))
    while sizes[-1] >= 2.0:
        sizes.append(sizes[-1] * ratio)
    return sizes


def first_replicated(sizes, d):
    """Level 0 and every level above the bound are distributed; the first level at or below
    it and all after it are replicated (tree.h)."""
    b = rep_max(d)
    return next((l for l, m in enumerate(sizes) if l >= 1 and m <= b), len(sizes))


def amdahl(serial, t):
    """Speed-up at t threads of work whose share `serial` runs on one thread."""
    if t <= 1:
        return 1.0
    serial = min(1.0, max(0.0, serial))
    return 1.0 / (serial + (1.0 - serial) / t)


def calibrate(knn, fits, ones, twos, thr, d):
    costs, scale, s2 = phase_costs(ones, twos)
    serial = stats.median([r["one_thread_share"] for r in thr])
    fit1 = ones[0]
    n1 = float(fit1["rows"])
    return {"d": d, "boundary": boundary_law(knn), "local": local_law(knn),
            "bq_cost": boundary_cost(knn), "costs": costs, "cpu_scale": scale,
            "comm": comm_laws(fits), "fractions": [m / n1 for m in fit1["levels"]],
            "dist_levels_measured": sorted({f.get("distributed_levels") for f in fits
                                            if f["P"] >= 2}),
            "speedup2_wall": s2, "serial": 1.0 if serial is None else serial,
            "serial_points": [r["one_thread_share"] for r in thr], "fit_rows": fit1["rows"], "fit_loads": [f.get("load_before") for f in ones + twos]}


def predict(m, n, cores, threads=1, alpha=1.5e-6, node_gbs=12.5, cores_per_node=48,
            divide_gathers=False):
    """Seconds of the busiest rank at `cores` = R ranks x `threads`; a dict of the terms.
    divide_gathers: what-if, the bytes per rank that grow with n (A1 n: all-gathers of
    per-row data, the CV ring) divided by R like the rest."""
    R = max(1, cores // threads)
    r = n / float(R)
    d = m["d"]
    sizes = level_sizes(m["fractions"], n)
    rep = first_replicated(sizes, d) if R > 1 else len(sizes)
    kcv = kcv_runs(n, d, len(sizes))
    terms = {"divided": 0.0, "replicated": 0.0, "boundary": 0.0, "latency": 0.0, "bytes": 0.0}
    for name, c in m["costs"].items():
        sp = amdahl(m["serial"], threads)
        if c["kind"] == "row":
            terms["divided"] += c["cost"] * r / sp
        elif c["kind"] == "kcv":  # every rank holds all rows; skipped over its budget
            terms["replicated"] += c["cost"] * n / sp if kcv else 0.0
        elif c["kind"] == "level":
            f0 = LEVEL_FIRST[name]
            dist = sum(sizes[f0:rep]) / R
            repl = sum(sizes[max(f0, rep):])
            terms["divided"] += c["cost"] * dist / sp
            terms["replicated"] += c["cost"] * repl / sp
        else:  # nn level 0: the bench's local cost law and boundary queries
            loc = m["local"]
            # Per-row cost held at the largest measured block beyond it (no extrapolation
            # of its growth: the conservative reading for the speed-up).
            rr = min(max(r, 2.0), loc.get("r_max", r))
            terms["divided"] += loc["u"] * rr ** loc["v"] * r / sp
            if R > 1:
                b = m["boundary"]
                q = min(math.exp(b["k0"]) * r ** b["k1"] * R ** b["k2"], r * (R - 1))
                terms["boundary"] += m["bq_cost"] * q / sp
    if R > 1:
        ranks_per_node = max(1, cores_per_node // threads)
        bw = node_gbs * 1e9 / min(R, ranks_per_node)
        lg = math.ceil(math.log2(R))
        for name, law in m["comm"].items():
            if name == KCV and not kcv:
                continue
            if R <= law["calls_P"]:
                a2a, gat, red, p2p = law["calls"]
            else:
                a2a, gat, red, p2p = [c0 + c1 * math.log2(R) + c2 * R
                                      for c0, c1, c2 in law["calls_law"]]
            hop = R if name in CHAIN_P2P else 1
            terms["latency"] += alpha * (a2a * (R - 1) + gat * lg + red * 2 * lg + p2p * hop)
            a1 = law["A1"] * (n / R if divide_gathers else n)
            terms["bytes"] += (law["A0"] + a1 + law["B"] * r) / bw
    terms["total"] = sum(terms.values())
    return terms


CORES = [96, 192, 384, 768, 1536, 3072, 6144, 12288]
PAPER_GAS = (4095000, 20, 7.92, 1800.0, 230.0)  # the paper's training rows (perfmodel.PAPER)


def table(m, n, threads, **net):
    rows = []
    base = None
    for c in CORES:
        t = predict(m, n, c, threads, **net)
        base = base or t["total"]
        rows.append((c, t, base / t["total"]))
    return rows


def g(v):
    return "%.3g" % v


def sets(recs):
    """The two model inputs: (label, knn records, fit count records, 1-thread and 2-thread
    1-rank cost fits) for the Gas Sensor proxy and the 20-d blobs."""
    out = []
    for label, tag in (("proxy", "gas-proxy"), ("blobs", "blobs20")):
        knn = [r for r in recs if r["kind"] == "knn" and r["set"] == tag]
        fits = [r for r in recs if r["kind"] == "fit" and r["set"] == tag
                and r.get("role") == "counts"]
        cost = [r for r in recs if r["kind"] == "fit" and r["set"] == tag
                and r.get("role") == "cost"]
        rows = max([r["rows"] for r in cost] or [0])
        ones = [r for r in cost if r["T"] == 1 and r["rows"] == rows]
        twos = [r for r in cost if r["T"] == 2 and r["rows"] == rows]
        thr = [r for r in recs if r["kind"] == "threads" and r["set"] == tag]
        if knn and fits and ones:
            out.append((label, knn, fits, ones, twos, thr))
    return out


def report(recs, alpha_us=1.5, node_gbs=12.5, cores_per_node=48, socket=24):
    """Markdown: inputs, fitted laws and the projection tables of both data sets."""
    L = []
    net = {"alpha": alpha_us * 1e-6, "node_gbs": node_gbs, "cores_per_node": cores_per_node}
    L.append("Network (assumed, not measured here): alpha = %g us per message, %g GB/s per "
             "node shared by its ranks, %d cores per node." % (alpha_us, node_gbs,
                                                             cores_per_node))
    L.append("")
    L.append("### Boundary queries of the level-0 search, every data set measured")
    L.append("")
    L.append("Busiest rank's queries answered (bench_knn_dist, rows per rank r, fitted law "
             "q = c r^k1 P^k2 over P = 2..32; queries per own row at the largest P):")
    L.append("")
    L.append("| data | d | rows | law q = c r^k1 P^k2 | model/measured | P: queries answered "
             "(per own row) |")
    L.append("|---|---:|---|---|---|---|")
    tags = []
    for r in recs:
        if r["kind"] == "knn" and r["set"] not in tags:
            tags.append(r["set"])
    for tag in tags:
        knn = [r for r in recs if r["kind"] == "knn" and r["set"] == tag]
        if len([r for r in knn if r["P"] >= 2]) < 3:
            continue
        b = boundary_law(knn)
        n_all = sorted({int(r["result"]["n"]) for r in knn})
        big = [r for r in knn if int(r["result"]["n"]) == n_all[-1] and r["P"] >= 2]
        law = ("%s r^%.2f P^%.2f" % (g(math.exp(b["k0"])), b["k1"], b["k2"]), "%.2f..%.2f" % (
            b["spread"][0], b["spread"][1])) if len(n_all) > 1 else (
            "one size: r and P collinear, not fitted", "-")
        L.append("| %s | %d | %s | %s | %s | %s |" % (
            tag, int(knn[0]["result"]["d"]), ", ".join(str(x) for x in n_all), law[0], law[1],
            ", ".join("%d: %.0f (%.2f)" % (r["P"], r["result"]["answered_max"],
                                           r["result"]["answered_max"] / r["result"]["max_slab"])
                      for r in sorted(big, key=lambda r: r["P"]))))
    L.append("")
    models = {}
    for label, knn, fits, ones, twos, thr in sets(recs):
        f1 = ones[0]
        m = calibrate(knn, fits, ones, twos, thr, f1["d"])
        models[label] = m
        b, loc = m["boundary"], m["local"]
        L.append("### Inputs: %s (d = %d)" % (label, m["d"]))
        L.append("")
        L.append("- boundary queries answered by the busiest rank: q = %s r^%.3f P^%.3f "
                 "(r = rows per rank; %d points, P = 2..32; model/measured %.2f..%.2f)" % (
                     g(math.exp(b["k0"])), b["k1"], b["k2"], b["points"], b["spread"][0],
                     b["spread"][1]))
        L.append("- local search CPU per row: %s r^%.3f s (%d points, P <= 2; held at its "
                 "value at r = %d, the largest measured, beyond it)" % (
                     g(loc["u"]), loc["v"], loc["points"], loc["r_max"]))
        L.append("- boundary CPU per answered query: %s s (median of the P >= 4 points)" %
                 g(m["bq_cost"]))
        L.append("- 1-rank fits (%d rows; %d x 1 thread, %d x 2 threads; loads before %s): "
                 "CPU / wall = %.2f; levels %s; replication bound %d items: distributed "
                 "levels at P >= 2 measured %s" % (
                     f1["rows"], len(ones), len(twos),
                     ", ".join("%.0f" % x for x in m["fit_loads"] if x is not None),
                     m["cpu_scale"], f1["levels"], rep_max(m["d"]),
                     m["dist_levels_measured"]))
        L.append("- threads: share of a 1-rank fit's CPU that ran on one thread of two "
                 "(main minus worker CPU over their sum, load-independent): %s, median %.3f: "
                 "1 -> 2 threads speed-up %.2f (efficiency %.2f); Amdahl's law to t threads "
                 "(24: %.1fx; beyond 2 an extrapolation). The wall-time ratio of 1- and "
                 "2-thread runs under load (%.2f) is not used" % (
                     ", ".join("%.3f" % x for x in m["serial_points"]), m["serial"],
                     amdahl(m["serial"], 2), amdahl(m["serial"], 2) / 2,
                     amdahl(m["serial"], 24), m["speedup2_wall"]))
        L.append("")
        L.append("| phase | walks | CPU s (1 rank) | per item s | "
                 "bytes/rank = A0 + A1 n + B n/P: A0, A1, B | calls/rank at P=%d: a2a, "
                 "gather, reduce, p2p |" % max(f["P"] for f in fits))
        L.append("|---|---|---:|---:|---:|---|")
        for name, c in m["costs"].items():
            law = m["comm"].get(name)
            L.append("| %s | %s | %.3f | %s | %s | %s |" % (
                name, {"row": "n/P rows", "level": "levels", "nn0": "n/P rows + q",
                       "kcv": "all n rows (if within budget)"}[c["kind"]],
                c["cpu_seconds"], g(c["cost"]),
                "%s, %s, %s" % (g(law["A0"]), g(law["A1"]), g(law["B"])) if law else "-",
                ", ".join("%.0f" % x for x in law["calls"]) if law else "-"))
        L.append("")
    n_gas = PAPER_GAS[0]
    L.append("### Summary: PROJECTED speed-up from 96 to 12,288 cores (paper, measured: "
             "Gas Sensor %.2fx, %.0f -> %.0f s)" % PAPER_GAS[2:])
    L.append("")
    L.append("| case | boundary law | layout | 96 cores s | 12,288 cores s | speed-up | "
             "largest term at 12,288 (share) | what-if: O(n) gathers divided |")
    L.append("|---|---|---|---:|---:|---:|---|---:|")
    for n, case in ((n_gas, "Gas Sensor"), (100 * n_gas, "100 x Gas Sensor")):
        for label, m in models.items():
            for threads, how in ((1, "1 rank/core"), (socket, "1 rank/%d-core socket"
                                                      % socket)):
                t0 = predict(m, n, CORES[0], threads, **net)
                t1 = predict(m, n, CORES[-1], threads, **net)
                w0 = predict(m, n, CORES[0], threads, divide_gathers=True, **net)
                w1 = predict(m, n, CORES[-1], threads, divide_gathers=True, **net)
                big = max((k for k in t1 if k != "total"), key=lambda k: t1[k])
                L.append("| %s | %s | %s | %s | %s | %.2fx | %s (%.0f%%) | %.2fx |" % (
                    case, "PROXY (synthetic)" if label == "proxy" else "blobs (worst case)",
                    how, g(t0["total"]), g(t1["total"]), t0["total"] / t1["total"], big,
                    100.0 * t1[big] / t1["total"], w0["total"] / w1["total"]))
    L.append("")
    for label, m in models.items():
        for n, case in ((n_gas, "Gas Sensor"), (100 * n_gas, "100 x Gas Sensor")):
            for threads, how in ((1, "one rank per core"),
                                 (socket, "hybrid: one rank per %d-core socket" % socket)):
                L.append("#### PROJECTION, %s (%d x 20), %s, boundary law of the %s" % (
                    case, n, how, "Gas Sensor PROXY (synthetic)" if label == "proxy"
                    else "isotropic blobs (worst case)"))
                L.append("")
                L.append("| cores | ranks | rows/rank | divided s | replicated s | boundary s"
                         " | latency s | bytes s | total s | speed-up vs 96 |")
                L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
                for c, t, s in table(m, n, threads, **net):
                    R = max(1, c // threads)
                    L.append("| %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %.2fx |" % (
                        c, R, n / float(R), g(t["divided"]), g(t["replicated"]),
                        g(t["boundary"]), g(t["latency"]), g(t["bytes"]), g(t["total"]), s))
                L.append("")
    return "\n".join(L), models
