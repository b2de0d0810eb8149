"""Launcher command lines for one run of bfcr at P ranks x T threads.

Three launchers:
  local     mpirun on this machine. --allow-run-as-root when run as root; --oversubscribe
            when P x T exceeds the cores; each rank bound to T cores (--map-by slot:PE=T
            --bind-to core) when P x T fits, --bind-to none when it does not (a bound,
            oversubscribed rank would stack its threads on one core); never bound with
            --bind none (on a machine shared with other pinned jobs, pinning can hold a
            rank on the busier core).
  hostfile  mpirun --hostfile FILE across machines; same binding, environment exported
            with -x (remote ranks do not inherit the launching shell's environment).
  slurm     srun inside an allocation (sbatch/salloc): -n P -c T --cpu-bind=cores, the
            environment passed with --export=ALL,....

Every launcher pins OpenBLAS to one thread and sets OMP_NUM_THREADS = T (bfcr also gets
--threads T); the local launcher sets OMPI_MCA_pml=ob1 (skips probing network fabrics,
about 200 ms per launch on a laptop-class machine), which the cluster launchers leave to
the site (on InfiniBand ob1 would be the slow choice).
"""

import os
import shlex


def run_env(threads, launcher, pml):
    """Environment variables every rank must see."""
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": str(threads)}
    if threads > 1:
        # Threads stay on the cores their rank is bound to, one per core.
        env["OMP_PROC_BIND"] = "close"
        env["OMP_PLACES"] = "cores"
    if pml:
        env["OMPI_MCA_pml"] = pml
    return env


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def launch_prefix(cfg, ranks, threads, env):
    """The argv prefix that starts `ranks` processes of `threads` threads each."""
    kind = cfg["launcher"]
    extra = shlex.split(cfg.get("mpi_args") or "")
    if kind in ("local", "hostfile"):
        argv = [cfg.get("mpirun") or "mpirun"]
        if is_root():
            argv.append("--allow-run-as-root")
        if kind == "hostfile":
            argv += ["--hostfile", cfg["hostfile"]]
        argv += ["-np", str(ranks)]
        cores = cfg.get("cores") or os.cpu_count() or 1
        over = kind == "local" and ranks * threads > cores
        if over or cfg.get("oversubscribe"):
            argv.append("--oversubscribe")
        if over or cfg.get("bind") == "none":
            argv += ["--bind-to", "none"]
        else:
            argv += ["--map-by", "slot:PE=%d" % threads, "--bind-to", "core"]
        if kind == "hostfile":
            for k in sorted(env):
                argv += ["-x", "%s=%s" % (k, env[k])]
        return argv + extra
    if kind == "slurm":
        argv = [cfg.get("srun") or "srun", "-n", str(ranks), "-c", str(threads),
                "--cpu-bind=%s" % ("none" if cfg.get("bind") == "none" else "cores")]
        exports = ",".join("%s=%s" % (k, env[k]) for k in sorted(env))
        argv.append("--export=ALL," + exports)
        return argv + extra
    raise ValueError("unknown launcher %r (local, hostfile, slurm)" % kind)


def describe(argv, env, show_env):
    """One shell line that reproduces the command (environment prefixed when the
    launcher does not carry it itself)."""
    parts = []
    if show_env and env:
        parts.append("env")
        parts += ["%s=%s" % (k, env[k]) for k in sorted(env)]
    parts += list(argv)
    return " ".join(shlex.quote(p) for p in parts)


def oversubscribed(cfg, ranks, threads):
    if cfg["launcher"] != "local":
        return False
    cores = cfg.get("cores") or os.cpu_count() or 1
    return ranks * threads > cores
