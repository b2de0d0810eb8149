"""Aggregation of a sweep's run records into points: median, min and max over repeats of
the run's wall time and of every phase, speedup and parallel efficiency against the
smallest run of each mode.

Times are bfcr's own: `wall_seconds` of the --report record (rank 0, from after MPI_Init
to the report, so the launcher's start-up is excluded; it is kept apart as
launch_seconds) and each phase's seconds (the maximum over ranks). Speedup uses medians:
strong S = t(base) / t, efficiency E = S / (w / w_base) with w = ranks x threads;
weak E = t(base) / t (ideal 1) and scaled speedup E x w / w_base."""

import glob
import json
import os


def median(v):
    s = sorted(v)
    if not s:
        return None
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def load_runs(out):
    runs = []
    for path in sorted(glob.glob(os.path.join(out, "runs", "*.json"))):
        if path.endswith(".report.json"):
            continue
        with open(path) as f:
            rec = json.load(f)
        rec["ok"] = rec.get("exit_code") == 0 and isinstance(rec.get("report"), dict)
        runs.append(rec)
    return runs


def load_optional(out, name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


# Phases that bfcr times inside another phase (their seconds are part of the parent's):
# exact names, then name prefixes. Stacked plots and shares use top-level phases only.
NESTED = {"exchange": "summaries"}
NESTED_PREFIX = {"knn_dist ": "nn level 0"}


def parent_of(name):
    if name in NESTED:
        return NESTED[name]
    for pre, parent in NESTED_PREFIX.items():
        if name.startswith(pre):
            return parent
    return None


def phase_order(runs):
    """Phase names in the order bfcr reports them (union over runs)."""
    names = []
    for r in runs:
        if r["ok"]:
            for ph in r["report"].get("phases", []):
                if ph["name"] not in names:
                    names.append(ph["name"])
    # Each nested phase right after its parent.
    top = [n for n in names if parent_of(n) is None]
    out = []
    for n in top:
        out.append(n)
        out += [m for m in names if parent_of(m) == n]
    return out + [m for m in names if m not in out]


def aggregate(runs):
    """Points keyed by (mode, ranks, threads), in mode / workers / ranks order."""
    groups = {}
    for r in runs:
        c = r["config"]
        key = (c["mode"], c["ranks"], c["threads"])
        g = groups.setdefault(key, {"mode": c["mode"], "ranks": c["ranks"],
                                    "threads": c["threads"], "n": c["n"],
                                    "workers": c["ranks"] * c["threads"],
                                    "oversubscribed": bool(c.get("oversubscribed")),
                                    "ok": [], "failed": []})
        (g["ok"] if r["ok"] else g["failed"]).append(r)
    names = phase_order(runs)
    points = []
    for key in sorted(groups, key=lambda k: (k[0] != "strong", k[1] * k[2], k[1])):
        g = groups[key]
        walls = [r["report"]["wall_seconds"] for r in g["ok"]]
        launches = [r["launch_seconds"] for r in g["ok"]]
        pt = {k: g[k] for k in ("mode", "ranks", "threads", "n", "workers", "oversubscribed")}
        pt["n_per_rank"] = g["n"] // g["ranks"]
        pt["repeats"] = len(g["ok"])
        pt["failed"] = len(g["failed"])
        pt["failures"] = [{"id": r["id"], "exit_code": r["exit_code"],
                           "stderr_tail": r.get("stderr_tail", "")} for r in g["failed"]]
        pt["wall_median"] = median(walls)
        pt["wall_min"] = min(walls) if walls else None
        pt["wall_max"] = max(walls) if walls else None
        pt["launch_median"] = median(launches)
        loads = [r["loadavg_before"] for r in g["ok"] if r.get("loadavg_before") is not None]
        pt["loadavg_median"] = median(loads)
        rss = [r["report"]["peak_rss_mb_max"] for r in g["ok"]
               if r["report"].get("peak_rss_mb_max") is not None]
        pt["peak_rss_mb_max"] = median(rss)
        sent = [r["report"]["sent_mb_max"] for r in g["ok"]
                if r["report"].get("sent_mb_max") is not None]
        pt["sent_mb_max"] = median(sent)
        phases = {}
        for name in names:
            secs, flops, fastest = [], [], []
            for r in g["ok"]:
                for ph in r["report"].get("phases", []):
                    if ph["name"] == name:
                        secs.append(ph["seconds"])
                        flops.append(ph.get("flops") or 0.0)
                        if ph.get("seconds_min") is not None:
                            fastest.append(ph["seconds_min"])
            if secs:
                # seconds: slowest rank; rank_min: fastest rank (imbalance = ratio).
                phases[name] = {"median": median(secs), "min": min(secs), "max": max(secs),
                                "flops": median(flops), "rank_min": median(fastest)}
        pt["phases"] = phases
        if g["ok"]:
            rep = g["ok"][0]["report"]
            pt["levels"] = [lv["clusters"] for lv in rep.get("levels", [])]
            pt["chosen_level"] = rep.get("chosen_level")
            pt["distributed_levels"] = rep.get("distributed_levels")
            pt["d"] = rep.get("features")
            pt["report_threads"] = rep.get("threads")
            pt["report_ranks"] = rep.get("ranks")
        points.append(pt)
    for mode in ("strong", "weak"):
        mine = [p for p in points if p["mode"] == mode and p["wall_median"]]
        if not mine:
            continue
        base = min(mine, key=lambda p: (p["workers"], p["ranks"]))
        for p in points:
            if p["mode"] != mode:
                continue
            p["base"] = "p%d-t%d" % (base["ranks"], base["threads"])
            if not p["wall_median"]:
                p["speedup"] = p["efficiency"] = p["scaled_speedup"] = None
                continue
            ratio = base["wall_median"] / p["wall_median"]
            scale = p["workers"] / float(base["workers"])
            if mode == "strong":
                p["speedup"] = ratio
                p["speedup_lo"] = base["wall_median"] / p["wall_max"]
                p["speedup_hi"] = base["wall_median"] / p["wall_min"]
                p["efficiency"] = ratio / scale
                p["scaled_speedup"] = None
            else:
                p["efficiency"] = ratio
                p["scaled_speedup"] = ratio * scale
                p["speedup"] = None
            p["ideal"] = scale if mode == "strong" else 1.0
    return points, names
