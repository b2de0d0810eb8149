"""What the run record of bfcr does not say about the machine: CPU, cores, memory, kernel,
Open MPI, OpenBLAS and gnuplot versions. Best effort: a tool that is missing gives null."""

import os
import platform
import re
import shutil
import subprocess


def _run(argv, timeout=20):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, universal_newlines=True)
        return p.stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _lscpu():
    out = _run(["lscpu"])
    info = {}
    if out:
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                info[k.strip()] = v.strip()
    keep = ["Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
            "NUMA node(s)", "L2 cache", "L3 cache", "Hypervisor vendor", "CPU max MHz"]
    return {k: info[k] for k in keep if k in info}


def _meminfo_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1048576.0, 2)
    except OSError:
        pass
    return None


def _openblas(bfcr):
    """The OpenBLAS library bfcr loads (ldd) and its Debian package version."""
    out = _run(["ldd", bfcr]) if bfcr and os.path.exists(bfcr) else None
    lib = None
    if out:
        for line in out.splitlines():
            m = re.search(r"(libopenblas\S*|libblas\.so\S*)\s*=>\s*(\S+)", line)
            if m:
                lib = os.path.realpath(m.group(2))
                break
    ver = None
    if lib and shutil.which("dpkg"):
        owner = _run(["dpkg", "-S", lib])
        if owner and ":" in owner:
            pkg = owner.split(":")[0].strip()
            ver = (_run(["dpkg-query", "-W", "-f=${Version}", pkg]) or "").strip() or None
            return {"library": lib, "package": pkg, "version": ver}
    return {"library": lib, "package": None, "version": ver}


def collect(bfcr, mpirun):
    mpi = _run([mpirun or "mpirun", "--version"])
    gp = _run(["gnuplot", "--version"]) if shutil.which("gnuplot") else None
    ver = _run([bfcr, "version"]) if bfcr and os.path.exists(bfcr) else None
    return {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cores": os.cpu_count(),
        "cpu": _lscpu(),
        "mem_gib": _meminfo_gib(),
        "mpi": mpi.splitlines()[0].strip() if mpi else None,
        "openblas": _openblas(bfcr),
        "gnuplot": gp.strip() if gp else None,
        "bfcr": ver.strip().splitlines()[0] if ver else None,
        "python": platform.python_version(),
    }
