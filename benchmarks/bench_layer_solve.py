"""One factorisation for a whole layer versus one least-squares problem per neuron.

BPLS solves all neurons of a layer at once: one Gram matrix, one Cholesky factorisation,
q right-hand sides. The paper describes the per-neuron problems; solved one by one (each
forming its own normal equations), they repeat the Gram product and the factorisation q
times. Reports both times and their ratio.

    python benchmarks/bench_layer_solve.py [--n 60000 --d 785 --q 256] [--out results/layer.json]
"""

from __future__ import annotations

import argparse

import numpy as np

from _common import best_time, machine, write_json
from lsqnet import lstsq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=785)
    parser.add_argument("--q", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    A = rng.random((args.n, args.d), dtype=np.float32)
    T = rng.standard_normal((args.n, args.q)).astype(np.float32)

    def layer():
        return lstsq(A, T, alpha=1.0, solver="cholesky")

    def per_neuron():
        return np.column_stack(
            [lstsq(A, T[:, j], alpha=1.0, solver="cholesky") for j in range(args.q)]
        )

    np.testing.assert_allclose(layer(), per_neuron(), rtol=1e-3, atol=1e-4)
    t_layer, _ = best_time(layer, args.repeats)
    t_neuron, _ = best_time(per_neuron, max(1, args.repeats // 2))
    ratio = t_neuron / t_layer
    print(f"A {args.n}x{args.d}, {args.q} neurons (float32): layer at once {t_layer:.3f}s, "
          f"per-neuron loop {t_neuron:.3f}s, ratio {ratio:.1f}x")
    write_json(args.out, {"benchmark": "layer_solve", "machine": machine(), "n": args.n,
                          "d": args.d, "q": args.q, "time_layer": t_layer,
                          "time_per_neuron": t_neuron, "ratio": ratio})


if __name__ == "__main__":
    main()
