#!/usr/bin/python3
"""bench_join.py: the peer of bench_join.c: nearest neighbour within a radius with scipy's
cKDTree on unit vectors (what astropy's match_coordinates_sky does), and the positions file.

    bench_join.py make POSITIONS.bin N SEED      (a 100 deg^2 field around RA 0, dec 30, with
                                                  every tenth row a copy of a table star moved by < 2")
    bench_join.py match POSITIONS.bin N REPEATS RADIUS OUT.txt"""
import sys
import time

import numpy as np
from scipy.spatial import cKDTree


def unit(ra, dec):
    r, d = np.radians(ra), np.radians(dec)
    return np.column_stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])


def main(argv):
    if argv[1] == "make":
        n, rng = int(argv[3]), np.random.default_rng(int(argv[4]))
        tra = (rng.uniform(-5, 5, n)) % 360
        tdec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(25)), np.sin(np.radians(35)), n)))
        ra = (rng.uniform(-5, 5, n)) % 360
        dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(25)), np.sin(np.radians(35)), n)))
        k = np.arange(0, n, 10)
        ra[k] = (tra[k] + rng.uniform(-1.4, 1.4, len(k)) / 3600 / np.cos(np.radians(tdec[k]))) % 360
        dec[k] = tdec[k] + rng.uniform(-1.4, 1.4, len(k)) / 3600
        np.concatenate([tra, tdec, ra, dec]).astype("<f8").tofile(argv[2])
        return 0
    n, reps, radius = int(argv[3]), int(argv[4]), float(argv[5])
    p = np.fromfile(argv[2], "<f8").reshape(4, n)
    chord = 2 * np.sin(np.radians(radius / 3600) / 2)
    wall, cpu = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        tree = cKDTree(unit(p[0], p[1]))
        dist, idx = tree.query(unit(p[2], p[3]), k=1, distance_upper_bound=chord)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    row = np.where(np.isfinite(dist), idx, -1)
    np.savetxt(argv[6], row, fmt="%d")
    print(f"scipy cKDTree (unit vectors): {n} x {n} positions, radius {radius}\": median "
          f"{np.median(wall):.3f} s wall, {np.median(cpu):.3f} s CPU over {reps} runs; "
          f"{(row >= 0).sum()} matched")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
