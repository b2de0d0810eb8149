"""A synthetic PROXY of the structure of UCI 'gas sensor array under dynamic gas mixtures'
(the paper's Gas Sensor, 4,178,504 rows). It is NOT that data set: it only imitates its
geometry (low intrinsic dimension) so that the level-0 search's boundary queries can be
counted on something less pessimistic than isotropic blobs.

One 12-hour experiment (T = 43,200 s) sampled at n evenly spaced times (n rows; more rows
= denser sampling of the same experiment, as subsamples of the real file would be):
  - latent signals, piecewise constant, a new level every U(80, 120) s: CO in
    {0, 50, ..., 600} ppm, ethylene in {0, 2.5, ..., 20} ppm (each zero with probability 1/3),
    and a slow 'humidity' level (a random walk, one step per segment);
  - 16 sensors (+1 for the target): each a monotone, saturating response
    g_s log(1 + a_s CO^p_s + b_s Eth^q_s) + h_s H + drift_s t / T that it approaches with a
    first-order lag (time constant tau_s in [5, 30] s) after every change of the gases,
    plus Gaussian noise of 1% of its range.
Columns (d = 20 features, then the target y): time, co, eth, hum, s1..s16, y (the 17th
sensor). Deterministic in (n, seed).

usage: python3 bench/scaling/gen_gas_proxy.py N OUT.csv [--seed S]"""

import argparse
import bisect
import math
import random

T_TOTAL = 43200.0
SENSORS = 17  # 16 features and the target


def segments(rng):
    """(start time, CO, ethylene, humidity) of every constant-gas segment."""
    segs, t, hum = [], 0.0, 0.5
    while t < T_TOTAL:
        co = 0.0 if rng.random() < 1 / 3.0 else 50.0 * rng.randint(1, 12)
        eth = 0.0 if rng.random() < 1 / 3.0 else 2.5 * rng.randint(1, 8)
        hum = min(1.0, max(0.0, hum + rng.gauss(0.0, 0.05)))
        segs.append((t, co, eth, hum))
        t += rng.uniform(80.0, 120.0)
    return segs


def sensors(rng):
    out = []
    for _ in range(SENSORS):
        out.append({"g": rng.uniform(0.5, 2.0), "a": rng.uniform(0.01, 0.2),
                    "b": rng.uniform(0.05, 1.0), "p": rng.uniform(0.3, 0.8),
                    "q": rng.uniform(0.3, 0.8), "h": rng.uniform(-0.5, 0.5),
                    "drift": rng.uniform(-0.3, 0.3), "tau": rng.uniform(5.0, 30.0)})
    return out


def steady(s, co, eth, hum):
    return s["g"] * math.log(1.0 + s["a"] * co ** s["p"] + s["b"] * eth ** s["q"]) + \
        s["h"] * hum


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    segs, sens = segments(rng), sensors(rng)
    starts = [g[0] for g in segs]
    # Every sensor's value when each segment starts (the lag carries it over).
    start_val = [[0.0] * len(segs) for _ in sens]
    for k, s in enumerate(sens):
        v = steady(s, 0.0, 0.0, 0.5)
        for j, (t0, co, eth, hum) in enumerate(segs):
            start_val[k][j] = v
            t1 = segs[j + 1][0] if j + 1 < len(segs) else T_TOTAL
            ss = steady(s, co, eth, hum)
            v = ss + (v - ss) * math.exp(-(t1 - t0) / s["tau"])
    lo = [min(start_val[k]) for k in range(len(sens))]
    hi = [max(start_val[k]) for k in range(len(sens))]
    noise = [0.01 * (hi[k] - lo[k] + 1e-3) for k in range(len(sens))]
    nrng = random.Random(a.seed + 1)
    with open(a.out, "w") as f:
        f.write("time,co,eth,hum," + ",".join("s%d" % (k + 1) for k in range(16)) + ",y\n")
        for i in range(a.n):
            t = (i + 0.5) * T_TOTAL / a.n
            j = bisect.bisect_right(starts, t) - 1
            t0, co, eth, hum = segs[j]
            row = [t, co, eth, hum]
            for k, s in enumerate(sens):
                ss = steady(s, co, eth, hum)
                v = ss + (start_val[k][j] - ss) * math.exp(-(t - t0) / s["tau"])
                row.append(v + s["drift"] * t / T_TOTAL + nrng.gauss(0.0, noise[k]))
            f.write(",".join("%.6g" % x for x in row) + "\n")


if __name__ == "__main__":
    main()
