#!/usr/bin/env python3
"""Strong and weak scaling sweeps of `bfcr fit` over a grid of ranks x threads.

  scale.py run --out DIR [options]      run the sweep (then summarize it)
  scale.py summarize DIR [options]      tables, plots, performance model and report

A point is (mode, ranks P, threads T). Strong scaling keeps n fixed; weak scaling keeps
n0 rows per rank (n = n0 P) or per core (n = n0 P T, --weak-per core). Every point runs R
times; repeats are interleaved (repeat r of every point before repeat r + 1 of any) so
that a burst of outside load hits all points alike. The data of each n is generated once
with `bfcr gen` (row i depends only on the seed and i, so the files are reproducible) and
reused by every point and repeat that needs it.

Each run leaves DIR/runs/<mode>-p<P>-t<T>-r<rep>.json: the configuration, the exact
command, its exit code and launch-to-exit seconds, and bfcr's own --report record.
DIR/machine.json describes the machine; DIR/roofline.json and DIR/pingpong.json hold
bench_roofline's DGEMM, triad and ping-pong figures when that program is found.
Standard library only (python3 >= 3.6); gnuplot (pngcairo) draws the plots.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import launch  # noqa: E402
import machine  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def int_list(text):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers, found %r" % text)
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, found %r" % text)
    return vals


def points(args):
    """The (mode, P, T, n) grid in a fixed order."""
    out = []
    for mode in args.modes:
        for p in args.ranks:
            for t in args.threads:
                if args.max_workers and p * t > args.max_workers:
                    continue
                if mode == "strong":
                    n = args.n
                else:
                    n = args.n0 * p * (t if args.weak_per == "core" else 1)
                out.append({"mode": mode, "ranks": p, "threads": t, "n": n})
    return out


def data_path(args, n):
    name = "blobs-n%d-d%d-k%d-s%d.csv" % (n, args.d, args.clusters, args.seed)
    return os.path.join(args.data_dir, name)


def cfg_of(args):
    return {"launcher": args.launcher, "mpirun": args.mpirun, "srun": args.srun,
            "hostfile": args.hostfile, "mpi_args": args.mpi_args, "cores": args.cores,
            "oversubscribe": args.oversubscribe, "bind": args.bind}


def pml_of(args):
    if args.pml is not None:
        return args.pml or None
    return "ob1" if args.launcher == "local" else None


def command(args, ranks, threads, tail):
    """(argv, env, printable line) of `tail` started at ranks x threads."""
    env = launch.run_env(threads, args.launcher, pml_of(args))
    argv = launch.launch_prefix(cfg_of(args), ranks, threads, env) + tail
    # A hostfile launch carries the environment with -x, srun with --export; the local
    # mpirun inherits it from this process, so the printed line shows it with env.
    show = args.launcher == "local"
    return argv, env, launch.describe(argv, env, show)


def gen_tail(args, n):
    return [args.bfcr, "gen", "-o", data_path(args, n), "--n", str(n), "--d", str(args.d),
            "--clusters", str(args.clusters), "--seed", str(args.seed),
            "--threads", str(args.gen_threads)]


def fit_tail(args, pt, rid):
    base = os.path.join(args.out, "runs", rid)
    tail = [args.bfcr, "fit", data_path(args, pt["n"]), "--target", "y",
            "-o", base + ".model", "--threads", str(pt["threads"]),
            "--report", base + ".report.json"]
    return tail + shlex.split(args.fit_args or "")


def run_cmd(argv, env, timeout, log=None):
    """Run argv in its own process group; on timeout the whole group is ended.
    Returns (exit code or None on timeout, seconds, stdout, stderr)."""
    full = dict(os.environ)
    full.update(env)
    t0 = time.time()
    p = subprocess.Popen(argv, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except OSError:
                pass
            try:
                out, err = p.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                out, err = "", ""
        rc = None
    return rc, time.time() - t0, out or "", err or ""


def tail_lines(text, n=15):
    return "\n".join(text.splitlines()[-n:])


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def find_roofline(args):
    if args.roofline:
        return args.roofline
    cand = os.path.join(os.path.dirname(os.path.abspath(args.bfcr)), "bench_roofline")
    return cand if os.path.exists(cand) else None


def roofline_steps(args):
    """(name, argv, env, line) of the roofline and ping-pong measurements."""
    exe = find_roofline(args)
    if not exe or args.no_roofline:
        return []
    rt = args.roofline_threads or args.cores or os.cpu_count() or 1
    steps = []
    # All-core figures: one process, OpenMP threads (the bench sets BLAS threads itself).
    tail = [exe, "--threads", str(rt), "--json", os.path.join(args.out, "roofline.json")]
    if args.launcher == "local":
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": str(rt)}
        steps.append(("roofline", tail, env, launch.describe(tail, env, True)))
    else:
        steps.append(("roofline",) + command(args, 1, rt, tail))
    pp = [exe, "--pingpong-only", "--json", os.path.join(args.out, "pingpong.json")]
    steps.append(("pingpong",) + command(args, 2, 1, pp))
    return steps


def do_run(args):
    pts = points(args)
    if not pts:
        sys.exit("scale.py: the grid is empty (check --ranks, --threads, --max-workers)")
    sizes = sorted({pt["n"] for pt in pts})
    if args.dry_run:
        print("# %d points x %d repeats, launcher %s" % (len(pts), args.repeats, args.launcher))
        for name, _argv, _env, line in roofline_steps(args):
            print("# %s\n%s" % (name, line))
        for n in sizes:
            print("# gen n=%d\n%s" % (n, command(args, 1, args.gen_threads, gen_tail(args, n))[2]))
        for rep in range(args.repeats):
            for pt in pts:
                rid = "%s-p%d-t%d-r%d" % (pt["mode"], pt["ranks"], pt["threads"], rep)
                line = command(args, pt["ranks"], pt["threads"], fit_tail(args, pt, rid))[2]
                print("# %s n=%d\n%s" % (rid, pt["n"], line))
        return 0
    if not os.path.exists(args.bfcr):
        sys.exit("scale.py: %s not found (build bfcr or pass --bfcr)" % args.bfcr)
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)
    os.makedirs(args.data_dir, exist_ok=True)
    t_start = time.time()
    sweep = {k: v for k, v in vars(args).items() if k not in ("func",)}
    sweep["points"] = pts
    sweep["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json(os.path.join(args.out, "sweep.json"), sweep)
    write_json(os.path.join(args.out, "machine.json"), machine.collect(args.bfcr, args.mpirun))

    for name, argv, env, line in roofline_steps(args):
        print("[%s] %s" % (name, line), flush=True)
        rc, sec, out, err = run_cmd(argv, env, args.timeout)
        if rc != 0:
            print("scale.py: %s failed (exit %s): %s" % (name, rc, tail_lines(err, 3)),
                  file=sys.stderr)

    for n in sizes:
        path = data_path(args, n)
        if os.path.exists(path) and not args.regen:
            print("[data] reusing %s" % path, flush=True)
            continue
        argv, env, line = command(args, 1, args.gen_threads, gen_tail(args, n))
        print("[data] %s" % line, flush=True)
        rc, sec, out, err = run_cmd(argv, env, args.timeout)
        if rc != 0:
            sys.exit("scale.py: bfcr gen failed (exit %s):\n%s" % (rc, tail_lines(err)))

    failures = 0
    for rep in range(args.repeats):
        for pt in pts:
            rid = "%s-p%d-t%d-r%d" % (pt["mode"], pt["ranks"], pt["threads"], rep)
            rec_path = os.path.join(args.out, "runs", rid + ".json")
            argv, env, line = command(args, pt["ranks"], pt["threads"], fit_tail(args, pt, rid))
            config = dict(pt, repeat=rep, launcher=args.launcher, d=args.d,
                          clusters=args.clusters, seed=args.seed, fit_args=args.fit_args or "",
                          oversubscribed=launch.oversubscribed(cfg_of(args), pt["ranks"],
                                                               pt["threads"]))
            if args.resume and os.path.exists(rec_path):
                with open(rec_path) as f:
                    old = json.load(f)
                if old.get("config") == config and old.get("exit_code") == 0:
                    print("[%s] kept from an earlier sweep" % rid, flush=True)
                    continue
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            rc, sec, out, err = run_cmd(argv, env, args.timeout)
            report = None
            rep_path = os.path.join(args.out, "runs", rid + ".report.json")
            if rc == 0 and os.path.exists(rep_path):
                with open(rep_path) as f:
                    report = json.load(f)
            model = os.path.join(args.out, "runs", rid + ".model")
            if os.path.exists(model) and not args.keep_models:
                os.remove(model)
            ok = rc == 0 and report is not None
            failures += not ok
            rec = {"id": rid, "config": config, "command": line, "env": env, "exit_code": rc,
                   "launch_seconds": sec, "report": report, "loadavg_before": load,
                   "stdout_tail": tail_lines(out), "stderr_tail": tail_lines(err),
                   "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            write_json(rec_path, rec)
            if ok:
                print("[%s] n=%d wall %.3f s (launch to exit %.3f s)"
                      % (rid, pt["n"], report.get("wall_seconds", float("nan")), sec), flush=True)
            else:
                why = "timeout" if rc is None else "exit %d" % rc
                print("[%s] FAILED (%s): %s" % (rid, why, tail_lines(err, 2)), flush=True)
                if args.stop_on_error:
                    return 1
    print("sweep: %d runs, %d failed, %.1f s" % (len(pts) * args.repeats, failures,
                                                 time.time() - t_start), flush=True)
    if not args.no_summary:
        import summarize
        rc = summarize.main_args(args.out, args)
        if rc:
            return rc
    return 1 if failures and args.strict else 0


def add_model_options(p):
    g = p.add_argument_group("performance model (summarize)")
    g.add_argument("--alpha-us", type=float, default=None,
                   help="message latency in microseconds (default: ping-pong, else 1.5)")
    g.add_argument("--beta-gbs", type=float, default=None,
                   help="point-to-point bandwidth in GB/s (default: ping-pong, else 10)")
    g.add_argument("--project-threads", type=int, default=1,
                   help="threads per rank in the projection (default 1: one rank per core)")
    g.add_argument("--model-f", choices=["auto", "measured", "design"], default="design",
                   help="serial parts of the phases: bfcr's design (default: the rows "
                        "divide; one 2-rank point on shared cores gave artifacts), measured "
                        "on quiet multi-rank points (auto), or measured whatever the load. "
                        "The count-based model: perfmodel.py counts")
    g.add_argument("--dist-levels", type=int, default=None,
                   help="levels kept distributed (default: the run record's, else 1: level 0)")
    g.add_argument("--rep-items", type=int, default=None,
                   help="what-if: replicate a level only once it has at most this many nodes")
    g.add_argument("--partition", choices=["slabs", "kd"], default="kd",
                   help="the ranks' partition of the exact searches (boundary term B): the "
                        "recursive bisection (kd, the code) or the former 1-D slabs")
    g.add_argument("--no-plots", action="store_true", help="skip gnuplot")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run", help="run a sweep, then summarize it", allow_abbrev=False)
    r.add_argument("--out", required=True, help="directory for runs, data, tables, plots")
    r.add_argument("--bfcr", default=os.path.join(REPO, "build", "bin", "bfcr"))
    r.add_argument("--modes", type=lambda s: [m for m in s.split(",") if m],
                   default=["strong", "weak"], help="strong,weak (default both)")
    r.add_argument("--ranks", type=int_list, default=[1, 2, 4])
    r.add_argument("--threads", type=int_list, default=[1])
    r.add_argument("--max-workers", type=int, default=0,
                   help="skip points with ranks x threads above this (0 = none)")
    r.add_argument("--n", type=int, default=400000, help="strong scaling rows")
    r.add_argument("--n0", type=int, default=200000, help="weak scaling rows per rank/core")
    r.add_argument("--weak-per", choices=["rank", "core"], default="rank")
    r.add_argument("--d", type=int, default=8)
    r.add_argument("--clusters", type=int, default=16)
    r.add_argument("--seed", type=int, default=3)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--launcher", choices=["local", "hostfile", "slurm"], default="local")
    r.add_argument("--hostfile")
    r.add_argument("--mpirun", default="mpirun")
    r.add_argument("--srun", default="srun")
    r.add_argument("--mpi-args", default="", help="extra launcher arguments (one string)")
    r.add_argument("--pml", default=None,
                   help="OMPI_MCA_pml for the ranks (default ob1 for local, unset otherwise;"
                        " '' to unset)")
    r.add_argument("--oversubscribe", action="store_true",
                   help="always pass --oversubscribe to mpirun")
    r.add_argument("--bind", choices=["auto", "none"], default="auto",
                   help="auto: bind each rank to its cores unless oversubscribed; none: never")
    r.add_argument("--cores", type=int, default=0,
                   help="cores per node (default: this machine's) for oversubscription")
    r.add_argument("--fit-args", default="", help="extra `bfcr fit` arguments (one string)")
    r.add_argument("--data-dir", help="where generated CSV files go (default OUT/data)")
    r.add_argument("--regen", action="store_true", help="regenerate existing data files")
    r.add_argument("--gen-threads", type=int, default=0,
                   help="threads of bfcr gen (default: the largest of --threads)")
    r.add_argument("--timeout", type=float, default=900, help="seconds per command")
    r.add_argument("--resume", action="store_true",
                   help="keep successful runs of the same configuration from an earlier sweep")
    r.add_argument("--keep-models", action="store_true")
    r.add_argument("--roofline", help="bench_roofline binary (default: beside bfcr)")
    r.add_argument("--roofline-threads", type=int, default=0)
    r.add_argument("--no-roofline", action="store_true")
    r.add_argument("--no-summary", action="store_true")
    r.add_argument("--stop-on-error", action="store_true")
    r.add_argument("--strict", action="store_true", help="exit 1 when any run failed")
    r.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    add_model_options(r)
    s = sub.add_parser("summarize", help="tables, plots, model and report of a sweep",
                       allow_abbrev=False)
    s.add_argument("out", help="the sweep directory")
    add_model_options(s)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        for m in args.modes:
            if m not in ("strong", "weak"):
                ap.error("--modes: expected strong and/or weak, found %r" % m)
        if args.launcher == "hostfile" and not args.hostfile:
            ap.error("--launcher hostfile needs --hostfile FILE")
        if min(args.n, args.n0, args.d, args.clusters, args.repeats) < 1:
            ap.error("--n, --n0, --d, --clusters and --repeats must be positive")
        args.out = os.path.abspath(args.out)
        args.bfcr = os.path.abspath(args.bfcr)
        args.data_dir = os.path.abspath(args.data_dir or os.path.join(args.out, "data"))
        if not args.gen_threads:
            args.gen_threads = max(args.threads)
        if args.hostfile:
            args.hostfile = os.path.abspath(args.hostfile)
        return do_run(args)
    if args.cmd == "summarize":
        import summarize
        return summarize.main_args(os.path.abspath(args.out), args)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
