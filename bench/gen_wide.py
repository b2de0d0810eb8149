#!/usr/bin/python3
"""Seeded wide regression data (n rows x d features, n <= d typical of genomics/text):
a few latent groups, x = group centre + noise, y = x . beta_group + noise.

usage: gen_wide.py OUT.csv N D [SEED] [GROUPS]
"""
import sys

import numpy as np


def main():
    out, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    k = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (k, d))
    beta = rng.normal(0.0, 1.0 / np.sqrt(d), (k, d))
    g = rng.integers(0, k, n)
    X = centres[g] + rng.normal(0.0, 1.0, (n, d))
    y = np.einsum("ij,ij->i", X - centres[g], beta[g]) + 3.0 * g + rng.normal(0.0, 0.1, n)
    with open(out, "w") as f:
        f.write(",".join([f"x{j + 1}" for j in range(d)] + ["y"]) + "\n")
        np.savetxt(f, np.column_stack([X, y]), fmt="%.9g", delimiter=",")


if __name__ == "__main__":
    main()
