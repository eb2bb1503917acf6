"""The first layer's product by bands of the image against NumPy's dense product.

For the local receptive fields of the presets (``init="patches"`` and ``"contrasts"``, 256 to
3072 units, both window ranges), times ``X @ W`` over the 60,000 training images (best of
``--repeats``) and :func:`lsqnet.features.windows.banded_product`, and reports the share of rows the
bands read and the ratio of the times. Then times whole fits (the ``accurate`` preset's
settings with each init) with the bands and with them switched off.

    LSQNET_DATA=../shared/datasets python benchmarks/bench_banded.py fashion-mnist \\
        [--repeats 3] [--out results/banded_fashion-mnist.json]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import best_time, machine, write_json
from lsqnet import BPLSClassifier
from lsqnet.datasets import load
from lsqnet.features import make_feature_map, windows
from lsqnet.network import init_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("mnist", "fashion-mnist"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    X, y = (np.asarray(a) for a in (load(args.dataset).X_train, load(args.dataset).y_train))
    X = X.astype(np.float32)
    products = []
    for init in ("patches", "contrasts"):
        for h in (256, 768, 3072):
            for patch_size in ((0.15, 0.36), (0.25, 0.5)):
                units = make_feature_map(init, image_shape=(28, 28), patch_size=patch_size)
                net = init_network((784, h, 10), "relu", "softmax", units,
                                   np.random.default_rng(0), np.float32, X=X,
                                   Y=np.eye(10, dtype=np.float32)[y])
                W = net.layers[0].weight
                first, stop, _, widths = windows.row_bands(W)
                dense = best_time(lambda W=W: X @ W, args.repeats)[0]
                banded = best_time(lambda W=W: windows.banded_product(X, W), args.repeats)[0]
                products.append(dict(init=init, units=h, patch_size=patch_size,
                                     band_rows=round(float(np.sum((stop - first) * widths)
                                                           / W.size), 3),
                                     dense_s=dense, banded_s=banded,
                                     ratio=round(banded / dense, 3)))
                print(products[-1], flush=True)
    fits = []
    for init, patch_size in (("patches", (0.25, 0.5)), ("contrasts", (0.15, 0.36))):
        for bands in (False, True):
            times = []
            for seed in range(args.repeats):
                clf = BPLSClassifier.from_preset("accurate", init=init, image_shape=(28, 28),
                                                 patch_size=patch_size,
                                                 alpha=10.0 if init == "contrasts" else 20.0,
                                                 random_state=seed)
                saved = windows.BAND_MIN_ROWS
                windows.BAND_MIN_ROWS = saved if bands else np.iinfo(np.int64).max
                try:
                    start = time.perf_counter()
                    clf.fit(X, y)
                    times.append(time.perf_counter() - start)
                finally:
                    windows.BAND_MIN_ROWS = saved
            fits.append(dict(init=init, patch_size=patch_size, bands=bands,
                             seconds=[round(t, 3) for t in times]))
            print(fits[-1], flush=True)
    if args.out:
        write_json(args.out, {"dataset": args.dataset, "machine": machine(),
                              "products": products, "fits": fits})


if __name__ == "__main__":
    main()
