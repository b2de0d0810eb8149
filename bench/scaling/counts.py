"""Counts that the count-based model (perfmodel.py, `countmodel`) reads: exact whatever the
machine's load, so they may be measured oversubscribed (P up to 32 on 2 cores).

  knn   bench_knn_dist at each (data, n, P): the busiest rank's boundary queries sent
        (queries_max) and answered (answered_max), its rows searched (max_slab), the bytes
        sent, and the CPU seconds of its local and boundary passes (times: load-sensitive).
  fit   `bfcr fit` at each P with BFCR_TRAFFIC_PHASES: per phase the busiest rank's bytes
        and MPI calls by latency class; the run record's level sizes, distributed_levels
        and phase seconds, and the CPU seconds of all ranks (the launcher's children).
        The 1-rank points give per-item costs: each phase's wall share of the CPU seconds
        (a loaded machine stretches all phases alike); 1 vs 2 threads, the threads'
        efficiency per phase (the scheduler shares cores per thread, so the ratio of wall
        times survives a uniform load, noisily). Their load is recorded beside them.

  threads  `bfcr fit` on one process with 2 threads (OMP_WAIT_POLICY=passive: a waiting
        thread burns no CPU): the CPU seconds of the main thread M and of the worker W,
        sampled from /proc until the exit. The main thread runs the serial parts and its
        half of the parallel ones, so the share of the work that ran on one thread is
        (M - W) / (M + W), whatever the load (CPU seconds, not wall).

Output: one JSON file (--out), appended to: each measurement is a record with the command,
the load average before it and the parsed figures. Re-running skips records present.

usage: python3 bench/scaling/counts.py knn --out F.json --build build --data blobs:20 \\
           --n 25000,100000 --ranks 1,2,4,8,16,32
       python3 bench/scaling/counts.py fit --out F.json --build build --csv DATA.csv \\
           --ranks 1,2,4,8,16 [--threads 1,2]"""

import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time


def load():
    return float(open("/proc/loadavg").read().split()[0])


def mpirun(p):
    cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(p)]
    if os.getuid() == 0:
        cmd.insert(1, "--allow-run-as-root")
    return cmd


def env():
    e = dict(os.environ)
    e.update({"OPENBLAS_NUM_THREADS": "1", "OMPI_MCA_pml": "ob1",
              "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
    return e


def save(path, recs):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(recs, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def have(recs, key):
    return any(r.get("key") == key for r in recs)


def do_knn(a, recs):
    exe = os.path.join(a.build, "bin", "bench_knn_dist")
    kind, _, dim = a.data.partition(":")
    for n in a.n or [0]:
        for p in a.ranks:
            spec = [str(n), dim] if kind == "blobs" else ["csv:" + dim, "0"]
            key = "knn %s n=%s P=%d" % (a.data, n if kind == "blobs" else "file", p)
            if have(recs, key):
                continue
            cmd = mpirun(p) + [exe] + spec + ["1", "1"]
            l0 = load()
            out = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=1800)
            res = [ln for ln in out.stdout.splitlines() if ln.startswith("result ")]
            if out.returncode or not res:
                print("FAILED", key, out.stderr[-500:])
                continue
            fig = {}
            for tok in res[0].split()[1:]:
                k, _, v = tok.partition("=")
                fig[k] = float(v.split("/")[0])
            rec = {"key": key, "kind": "knn", "data": a.data, "P": p, "load_before": l0,
                   "command": "OPENBLAS_NUM_THREADS=1 OMPI_MCA_pml=ob1 " + " ".join(
                       cmd[:1] + [c for c in cmd[1:] if c != "--allow-run-as-root"]),
                   "result": fig}
            recs.append(rec)
            save(a.out, recs)
            print("%s: queries_max %.0f answered_max %.0f max_slab %.0f (load %.1f)" % (
                key, fig["queries_max"], fig["answered_max"], fig["max_slab"], l0))


def traffic_max(prefix):
    """Per phase: the busiest rank's bytes, and its calls of each latency class."""
    bytes_, calls = {}, {}
    for f in glob.glob(prefix + ".*"):
        for ln in open(f):
            name, b = ln.rstrip("\n").rsplit("\t", 1)
            bytes_[name] = max(bytes_.get(name, 0.0), float(b))
    for f in glob.glob(prefix + "-calls.*"):
        for ln in open(f):
            parts = ln.rstrip("\n").split("\t")
            c = [float(x) for x in parts[1:]]
            old = calls.get(parts[0], [0.0] * len(c))
            calls[parts[0]] = [max(x, y) for x, y in zip(old, c)]
    return bytes_, calls


def do_fit(a, recs):
    exe = os.path.join(a.build, "bin", "bfcr")
    for t in a.threads:
        for p in a.ranks:
            key = "fit %s P=%d T=%d %s%s" % (os.path.basename(a.csv), p, t, a.fit_args, a.tag)
            if have(recs, key):
                continue
            tmp = tempfile.mkdtemp()
            try:
                rep = os.path.join(tmp, "rep.json")
                cmd = mpirun(p) + [exe, "fit", a.csv, "--target", a.target, "--threads", str(t),
                                   "-o", os.path.join(tmp, "m.bfcr"), "--report", rep]
                cmd += a.fit_args.split()
                e = env()
                e["BFCR_TRAFFIC_PHASES"] = os.path.join(tmp, "tp")
                e["OMP_NUM_THREADS"] = str(t)
                l0 = load()
                u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                out = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=3600)
                u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
                if out.returncode:
                    print("FAILED", key, out.stderr[-800:])
                    continue
                r = json.load(open(rep))
                b, c = traffic_max(os.path.join(tmp, "tp"))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            rec = {"key": key, "tag": a.tag, "kind": "fit", "data": os.path.basename(a.csv), "P": p, "T": t,
                   "load_before": l0, "load_after": load(),
                   "command": "BFCR_TRAFFIC_PHASES=PREFIX OPENBLAS_NUM_THREADS=1 mpirun "
                              "--oversubscribe --bind-to none -np %d bfcr fit %s --target %s "
                              "--threads %d %s" % (p, os.path.basename(a.csv), a.target, t,
                                                   a.fit_args),
                   "rows": r.get("rows"), "d": r.get("features"),
                   "distributed_levels": r.get("distributed_levels"),
                   "levels": [lv["clusters"] for lv in r.get("levels", [])],
                   "chosen_level": r.get("chosen_level"),
                   "wall_seconds": r.get("wall_seconds"),
                   "cpu_seconds_all_ranks": cpu,
                   "phases": {ph["name"]: ph.get("seconds") for ph in r.get("phases", [])},
                   "bytes_max": b, "calls_max": c}
            recs.append(rec)
            save(a.out, recs)
            print("%s: levels %s dist %s, sent %.1f MB (load %.1f)" % (
                key, rec["levels"], rec["distributed_levels"],
                sum(b.values()) / 1e6, l0))


def thread_cpu(cmd, e):
    """Run cmd; per-thread CPU seconds (largest first), sampled until it exits."""
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tick = os.sysconf("SC_CLK_TCK")
    last = {}
    while p.poll() is None:
        try:
            for t in os.listdir("/proc/%d/task" % p.pid):
                with open("/proc/%d/task/%s/stat" % (p.pid, t)) as f:
                    st = f.read()
                rest = st[st.rindex(")") + 2:].split()
                last[t] = (int(rest[11]) + int(rest[12])) / float(tick)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return p.returncode, sorted(last.values(), reverse=True)


def do_threads(a, recs):
    exe = os.path.join(a.build, "bin", "bfcr")
    for rep in range(a.repeats):
        key = "threads %s %s rep%d" % (os.path.basename(a.csv), a.fit_args, rep)
        if have(recs, key):
            continue
        tmp = tempfile.mkdtemp()
        try:
            cmd = [exe, "fit", a.csv, "--target", a.target, "--threads", "2",
                   "-o", os.path.join(tmp, "m.bfcr")] + a.fit_args.split()
            e = env()
            e.update({"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "passive"})
            l0 = load()
            rc, cpu = thread_cpu(cmd, e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if rc or len(cpu) < 2:
            print("FAILED", key)
            continue
        m, w = cpu[0], cpu[1]
        rec = {"key": key, "kind": "threads", "data": os.path.basename(a.csv),
               "load_before": l0, "main_cpu": m, "worker_cpu": w,
               "one_thread_share": (m - w) / (m + w),
               "command": "OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1 "
                          "bfcr fit %s --target %s --threads 2 %s" % (
                              os.path.basename(a.csv), a.target, a.fit_args)}
        recs.append(rec)
        save(a.out, recs)
        print("%s: main %.2f s, worker %.2f s CPU: one-thread share %.3f (load %.1f)" % (
            key, m, w, rec["one_thread_share"], l0))


def set_of(data):
    for tag, label in (("gas-", "gas-proxy"), ("blobs:20", "blobs20"), ("blobs20", "blobs20"),
                       ("blobs:8", "blobs8"), ("CASP", "CASP"), ("cal_housing", "cal_housing")):
        if tag in data:
            return label
    return data


def do_merge(a):
    """Records of several runs into one file: labelled by data set ("set") and role (the
    1-rank cost runs carry CPU seconds), directories stripped from paths."""
    out = []
    for path in a.inputs:
        for r in json.load(open(path)):
            r["set"] = set_of(r["data"])
            if r["kind"] == "threads":
                out.append(r)
                continue
            if r["kind"] == "fit":
                r["role"] = "cost" if r["P"] == 1 and "cpu_seconds_all_ranks" in r else "counts"
            for k in ("data", "command"):
                r[k] = " ".join(w if "/" not in w else
                                (w.split(":")[0] + ":" if w.startswith("csv:") else "") +
                                os.path.basename(w.split(":")[1] if w.startswith("csv:")
                                                 else w) +
                                (":" + w.split(":")[2] if w.startswith("csv:") and
                                 w.count(":") == 2 else "")
                                for w in r[k].split(" "))
            r["key"] = r["command"]
            out.append(r)
    save(a.out, out)
    print("%d records -> %s" % (len(out), a.out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("knn", "fit"):
        s = sub.add_parser(name)
        s.add_argument("--out", required=True)
        s.add_argument("--build", default="build")
        s.add_argument("--ranks", type=lambda x: [int(v) for v in x.split(",")],
                       default=[1, 2, 4, 8, 16])
    k = sub.choices["knn"]
    k.add_argument("--data", required=True, help="blobs:D or csv:PATH[:TARGET_COLUMN]")
    k.add_argument("--n", type=lambda x: [int(v) for v in x.split(",")], default=None)
    f = sub.choices["fit"]
    f.add_argument("--csv", required=True)
    f.add_argument("--target", default="y")
    f.add_argument("--threads", type=lambda x: [int(v) for v in x.split(",")], default=[1])
    f.add_argument("--fit-args", default="")
    f.add_argument("--tag", default="", help="appended to the record's key (repeats)")
    th = sub.add_parser("threads")
    th.add_argument("--out", required=True)
    th.add_argument("--build", default="build")
    th.add_argument("--csv", required=True)
    th.add_argument("--target", default="y")
    th.add_argument("--fit-args", default="")
    th.add_argument("--repeats", type=int, default=3)
    mg = sub.add_parser("merge")
    mg.add_argument("--out", required=True)
    mg.add_argument("inputs", nargs="+")
    a = ap.parse_args(argv)
    if a.cmd == "merge":
        return do_merge(a)
    recs = json.load(open(a.out)) if os.path.exists(a.out) else []
    {"knn": do_knn, "fit": do_fit, "threads": do_threads}[a.cmd](a, recs)


if __name__ == "__main__":
    main()
