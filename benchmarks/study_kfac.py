"""Kronecker-factored least-squares steps (lsqnet.training.kfac) against Adam on 784-256-10.

For each dataset and seed, in one process and interleaved (so both see the same machine
load): Adam (lr 1e-3, batch 128, 10 epochs, PyTorch, the same threads) and the
Kronecker-factored fit in each configuration of ``CONFIGS``. Times (wall clock, and the
process CPU time, less sensitive to other processes on the machine) are training only
(evaluation excluded: Adam is evaluated after its epochs, the fit's test accuracy per step is
taken in the monitor, whose time the history excludes). Writes the per-seed rows and the
medians over seeds as JSON.

    LSQNET_DATA=/work/shared/datasets python benchmarks/study_kfac.py \\
        --out benchmarks/results/kfac.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import load_idx_dataset, machine, write_json
from lsqnet.bpls import class_targets
from lsqnet.layers import Dense
from lsqnet.network import Network, init_network
from lsqnet.training import InMemory
from lsqnet.training.kfac import KFACOptions, fit

#: name -> (KFACOptions overrides, whether the data and weights are PyTorch tensors)
CONFIGS = {
    "kfac-1": (dict(max_iter=1), False),  # one pass over the data, then the output steps
    "kfac": ({}, False),  # the defaults (two passes)
    "kfac-1-torch": (dict(max_iter=1), True),  # one pass, on PyTorch tensors
    # half a pass, the objective and the output solve on half the rows, no final steps
    "kfac-half": (
        dict(max_iter=1, batches_per_step=60, gram_rows=5000, eval_rows=30000, output_iter=0),
        False,
    ),
    # a third of a pass, likewise
    "kfac-third": (
        dict(max_iter=1, batches_per_step=40, gram_rows=5000, eval_rows=30000, output_iter=0),
        False,
    ),
}


def adam(X, y, Xt, yt, activation, seed, epochs=10):
    torch.manual_seed(seed)
    act = torch.nn.Tanh() if activation == "tanh" else torch.nn.ReLU()
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), act, torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xs, ys = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        for idx in torch.randperm(Xs.shape[0], generator=gen).split(128):
            opt.zero_grad()
            loss_fn(model(Xs[idx]), ys[idx]).backward()
            opt.step()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    with torch.no_grad():
        acc = float((model(torch.from_numpy(Xt)).argmax(1).numpy() == yt).mean())
    return {"accuracy": acc, "time": seconds, "cpu_time": cpu}


def kfac(X, y, Xt, yt, activation, seed, overrides, tensors):
    Y = class_targets(y, 10, "softmax", np.float32)
    net = init_network(
        (784, 256, 10), activation, "softmax", "fan_in", np.random.default_rng(seed),
        np.float32, X=X,
    )
    source = InMemory(X, Y, y)
    test_X = Xt
    if tensors:
        source = InMemory(torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(y))
        net = Network(tuple(
            Dense(torch.from_numpy(layer.weight), torch.from_numpy(layer.bias), layer.activation)
            for layer in net.layers
        ))
        test_X = torch.from_numpy(Xt)
    curve = []
    excluded = [0.0]  # process time spent in the monitor

    def monitor(entry, network):
        paused = time.process_time()
        out = np.asarray(network.forward(test_X))
        curve.append({
            "iteration": entry["iteration"], "layers": entry["layers"],
            "time": entry["time"], "objective": entry["objective"],
            "retries": entry.get("retries"), "train_accuracy": entry["accuracy"],
            "test_accuracy": float((out.argmax(1) == yt).mean()),
        })
        excluded[0] += time.process_time() - paused

    opts = KFACOptions(random_state=seed, **overrides)
    cpu = time.process_time()
    result = fit(source, net, opts, classification=True, monitor=monitor)
    cpu = time.process_time() - cpu - excluded[0]
    out = np.asarray(result.network.forward(test_X))
    return {
        "accuracy": float((out.argmax(1) == yt).mean()),
        "time": result.history[-1]["time"],
        "cpu_time": cpu,
        "steps": len(result.history),
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--activation", default="tanh", choices=["tanh", "relu"])
    parser.add_argument(
        "--configs", nargs="+", default=["kfac-1", "kfac", "kfac-half"], choices=list(CONFIGS)
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/kfac.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"machine": machine(), "activation": args.activation, "threads": args.threads,
               "configs": {name: CONFIGS[name][0] for name in args.configs}, "datasets": {}}
    for name in args.datasets:
        X, y, Xt, yt = load_idx_dataset(name)
        rows = []
        for seed in args.seeds:
            row = {"seed": seed, "adam": adam(X, y, Xt, yt, args.activation, seed)}
            for config in args.configs:
                overrides, tensors = CONFIGS[config]
                row[config] = kfac(X, y, Xt, yt, args.activation, seed, overrides, tensors)
                row[config]["ratio"] = row[config]["time"] / row["adam"]["time"]
                row[config]["cpu_ratio"] = row[config]["cpu_time"] / row["adam"]["cpu_time"]
            rows.append(row)
            print(name, seed, {k: (v["accuracy"], round(v["time"], 2)) for k, v in row.items()
                               if isinstance(v, dict)}, flush=True)
        medians = {
            method: {
                field: float(np.median([r[method][field] for r in rows]))
                for field in ("accuracy", "time", "cpu_time",
                              *(("ratio", "cpu_ratio") if method != "adam" else ()))
            }
            for method in ("adam", *args.configs)
        }
        results["datasets"][name] = {"seeds": rows, "median": medians}
        print(name, "median", medians, flush=True)
        write_json(args.out, results)


if __name__ == "__main__":
    main()
