"""PNG plots of a sweep with gnuplot (pngcairo). Each plot leaves its data (.dat) and
script (.gp) beside the PNG in DIR/plots, so a plot can be restyled and redrawn with
`gnuplot NAME.gp` from that folder."""

import os
import shutil
import subprocess

import stats

# Distinct fills for up to 14 stacked phases.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a"]

HEAD = ('set terminal pngcairo size 960,600 noenhanced font "sans,11"\n'
        'set output "%s"\nset grid\nset key top left box opaque\n')


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _series_by_threads(pts, value):
    """Blocks (one per thread count) of 'workers value ranks' rows, for `index`."""
    blocks, titles = [], []
    for t in sorted({p["threads"] for p in pts}):
        rows = [p for p in pts if p["threads"] == t and p.get(value) is not None]
        if rows:
            blocks.append("\n".join(value_row(p, value) for p in rows))
            titles.append("%d thread%s per rank" % (t, "" if t == 1 else "s"))
    return "\n\n\n".join(blocks) + "\n", titles


def value_row(p, value):
    lo = p.get(value + "_lo", p[value])
    hi = p.get(value + "_hi", p[value])
    return "%d %.6g %.6g %.6g %d %d" % (p["workers"], p[value], lo, hi, p["ranks"],
                                        1 if p["oversubscribed"] else 0)


def speedup_plot(d, pts, cores):
    pts = [p for p in pts if p["mode"] == "strong" and p.get("speedup")]
    if not pts:
        return None
    data, titles = _series_by_threads(pts, "speedup")
    _write(os.path.join(d, "speedup.dat"), data)
    top = max(p["workers"] for p in pts)
    gp = HEAD % "speedup.png"
    gp += ('set title "Strong scaling of bfcr fit, n = %d (median of repeats, bars: min-max)"\n'
           % pts[0]["n"])
    gp += ('set xlabel "cores used = ranks x threads (this machine: %d cores)"\n'
           'set ylabel "speedup against the smallest run"\n'
           'set logscale xy 2\nset xrange [0.8:%g]\nset yrange [*:%g]\n'
           % (cores, top * 1.3, top * 1.3))
    if top > cores:
        gp += 'set arrow from %g, graph 0 to %g, graph 1 nohead dt 3 lc "gray40"\n' % (
            cores, cores)
        gp += 'set label "oversubscribed ->" at %g, graph 0.92 tc "gray40"\n' % (cores * 1.05)
    plots = ['x with lines dt 2 lc "black" title "ideal"']
    for i, t in enumerate(titles):
        plots.append('"speedup.dat" index %d using 1:2:3:4 with yerrorlines lw 2 pt 7 '
                     'title "%s"' % (i, t))
    plots.append('"speedup.dat" using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 3 '
                 'lc "red" title "oversubscribed (ranks x threads > cores)"')
    gp += "plot " + ", \\\n     ".join(plots) + "\n"
    return "speedup", gp


def efficiency_plot(d, pts, cores):
    rows = [p for p in pts if p.get("efficiency") is not None]
    if not rows:
        return None
    blocks, titles = [], []
    for mode in ("strong", "weak"):
        for t in sorted({p["threads"] for p in rows}):
            sel = [p for p in rows if p["mode"] == mode and p["threads"] == t]
            if sel:
                blocks.append("\n".join(value_row(p, "efficiency") for p in sel))
                titles.append("%s, %d thread%s per rank" % (mode, t, "" if t == 1 else "s"))
    _write(os.path.join(d, "efficiency.dat"), "\n\n\n".join(blocks) + "\n")
    top = max(p["workers"] for p in rows)
    gp = HEAD % "efficiency.png"
    gp += ('set title "Parallel efficiency (strong: speedup / cores ratio; weak: t_base / t)"\n'
           'set xlabel "cores used = ranks x threads (this machine: %d cores)"\n'
           'set ylabel "efficiency (1 = ideal)"\nset logscale x 2\n'
           'set xrange [0.8:%g]\nset yrange [0:1.3]\nset key top right\n' % (cores, top * 1.3))
    plots = ['1 with lines dt 2 lc "black" title "ideal"']
    for i, t in enumerate(titles):
        plots.append('"efficiency.dat" index %d using 1:2 with linespoints lw 2 pt %d '
                     'title "%s"' % (i, 7 if t.startswith("strong") else 5, t))
    plots.append('"efficiency.dat" using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 3 '
                 'lc "red" title "oversubscribed"')
    gp += "plot " + ", \\\n     ".join(plots) + "\n"
    return "efficiency", gp


def phases_plot(d, pts, names, mode):
    sel = [p for p in pts if p["mode"] == mode and p["wall_median"]]
    if not sel:
        return None
    used = [n for n in names if stats.parent_of(n) is None
            and any(p["phases"].get(n, {}).get("median", 0) > 0 for p in sel)]
    lines = ["point " + " ".join('"%s"' % n for n in used)]
    for p in sel:
        label = "P%dxT%d n=%s%s" % (p["ranks"], p["threads"], _short(p["n"]),
                                   "*" if p["oversubscribed"] else "")
        lines.append('"%s" ' % label + " ".join(
            "%.6g" % p["phases"].get(n, {}).get("median", 0.0) for n in used))
    name = "phases-%s" % mode
    _write(os.path.join(d, name + ".dat"), "\n".join(lines) + "\n")
    gp = HEAD % (name + ".png")
    gp += ('set title "%s scaling: median time per phase (max over ranks); * = oversubscribed"\n'
           'set ylabel "seconds"\nset xlabel "ranks x threads, rows"\n'
           'set style data histograms\nset style histogram rowstacked\n'
           'set style fill solid 0.85 border -1\nset boxwidth 0.6\n'
           'set key outside right top vertical\nset yrange [0:*]\nset xtics rotate by -20\n'
           % (mode.capitalize()))
    gp += 'colors = "%s"\n' % " ".join(COLORS)
    gp += ('plot for [i=2:%d] "%s.dat" using i:xtic(1) title columnheader(i) '
           'lc rgb word(colors, (i - 2) %% %d + 1)\n' % (len(used) + 1, name, len(COLORS)))
    return name, gp


def _short(n):
    if n >= 1000000 and n % 100000 == 0:
        return "%gM" % (n / 1e6)
    if n >= 1000 and n % 100 == 0:
        return "%gk" % (n / 1e3)
    return str(n)


def projection_plot(d, rows, paper):
    strong = [r for r in rows if r["kind"] == "strong"]
    weak = [r for r in rows if r["kind"] == "weak"]
    if not strong:
        return None
    cases = []
    for r in strong:
        if r["case"] not in cases:
            cases.append(r["case"])
    blocks = ["\n".join("%d %.6g %.6g" % (r["cores"], r["speedup"], r["seconds"])
                        for r in strong if r["case"] == c) for c in cases]
    _write(os.path.join(d, "projection.dat"), "\n\n\n".join(blocks) + "\n")
    pblocks, ptitles = [], []
    for name, v in paper.items():
        pblocks.append("96 1 %g\n12288 %g %g" % (v[3], v[2], v[4]))
        ptitles.append("paper, %s (measured 96 -> 12,288: %.2fx)" % (name, v[2]))
    _write(os.path.join(d, "paper.dat"), "\n\n\n".join(pblocks) + "\n")
    if weak:
        _write(os.path.join(d, "projection-weak.dat"),
               "\n".join("%d %.6g %.6g" % (r["cores"], r["efficiency"], r["seconds"])
                         for r in weak) + "\n")
    gp = HEAD % "projection.png"
    gp = gp.replace("size 960,600", "size 1280,560")
    gp += 'set multiplot layout 1,2 title "PROJECTION: performance model calibrated on ' \
          'this machine (not measured)"\n'
    gp += ('set title "strong scaling: speedup over 96 cores"\nset logscale xy 2\n'
           'set xlabel "cores (one rank per core)"\nset ylabel "speedup vs 96 cores"\n'
           'set xrange [80:15000]\nset yrange [0.25:200]\nset key top left font ",9"\n')
    plots = ['x/96 with lines dt 2 lc "black" title "ideal (128x at 12,288)"']
    for i, c in enumerate(cases):
        plots.append('"projection.dat" index %d using 1:2 with linespoints lw 2 pt 7 '
                     'title "model: %s"' % (i, c))
    for i, t in enumerate(ptitles):
        plots.append('"paper.dat" index %d using 1:2 with linespoints dt 3 lw 2 pt 5 ps 1.5 '
                     'title "%s"' % (i, t))
    gp += "plot " + ", \\\n     ".join(plots) + "\n"
    if weak:
        gp += ('unset logscale y\nset title "weak scaling: efficiency against 96 cores"\n'
               'set ylabel "efficiency (1 = ideal)"\nset yrange [0:1.2]\nset key bottom left\n'
               'plot 1 with lines dt 2 lc "black" title "ideal", "projection-weak.dat" '
               'using 1:2 with linespoints lw 2 pt 7 title "model: %s"\n' % weak[0]["case"])
    gp += "unset multiplot\n"
    return "projection", gp


def roofline_plot(d, pts, names, roof):
    if not roof or "dgemm" not in roof:
        return None
    sel = [p for p in pts if p["mode"] == "strong" and p["wall_median"]]
    if not sel:
        return None
    base = min(sel, key=lambda p: (p["workers"], p["ranks"]))
    big = max(sel, key=lambda p: (p["workers"] if not p["oversubscribed"] else 0, -p["ranks"]))
    flop_names = [n for n in names
                  if any(p["phases"].get(n, {}).get("flops", 0) > 0 for p in (base, big))]
    if not flop_names:
        return None

    def rate(p, n):
        ph = p["phases"].get(n)
        return ph["flops"] / ph["median"] * 1e-9 if ph and ph["median"] > 0 else 0.0

    lines = ['phase "P%dxT%d" "P%dxT%d"' % (base["ranks"], base["threads"], big["ranks"],
                                           big["threads"])]
    for n in flop_names:
        lines.append('"%s" %.6g %.6g' % (n, rate(base, n), rate(big, n)))
    _write(os.path.join(d, "roofline.dat"), "\n".join(lines) + "\n")
    g = roof["dgemm"]
    gp = HEAD % "roofline.png"
    gp += ('set title "Achieved GFLOP/s per phase (analytic flops, strong n = %d) against '
           'the measured DGEMM rate"\nset ylabel "GFLOP/s"\nset logscale y 10\n'
           'set yrange [*:%g]\nset style data histograms\n'
           'set style histogram clustered gap 1\nset style fill solid 0.8 border -1\n'
           'set key top right\n' % (base["n"], max(g["gflops_1core"], g["gflops_allcore"]) * 3))
    gp += ('plot "roofline.dat" using 2:xtic(1) title columnheader(2), '
           '"" using 3 title columnheader(3), '
           '%g with lines lw 2 dt 2 lc "red" title "DGEMM 1 core %.1f GFLOP/s", '
           '%g with lines lw 2 dt 4 lc "dark-red" title "DGEMM all cores %.1f GFLOP/s"\n'
           % (g["gflops_1core"], g["gflops_1core"], g["gflops_allcore"], g["gflops_allcore"]))
    return "roofline", gp


def draw(out, pts, names, proj_rows, paper, roof, cores):
    """Write every plot; returns (list of PNG paths, list of problems)."""
    d = os.path.join(out, "plots")
    os.makedirs(d, exist_ok=True)
    jobs = [speedup_plot(d, pts, cores), efficiency_plot(d, pts, cores),
            phases_plot(d, pts, names, "strong"), phases_plot(d, pts, names, "weak"),
            projection_plot(d, proj_rows or [], paper), roofline_plot(d, pts, names, roof)]
    made, problems = [], []
    gnuplot = shutil.which("gnuplot")
    for job in jobs:
        if not job:
            continue
        name, gp = job
        _write(os.path.join(d, name + ".gp"), gp)
        if not gnuplot:
            problems.append("gnuplot not found: %s.gp written, not drawn" % name)
            continue
        p = subprocess.run([gnuplot, name + ".gp"], cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        png = os.path.join(d, name + ".png")
        if p.returncode != 0 or not os.path.exists(png):
            problems.append("gnuplot %s.gp failed: %s" % (name, p.stdout.strip()[-300:]))
        else:
            made.append(png)
    return made, problems
