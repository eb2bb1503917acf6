#!/usr/bin/env bash
# The benchmark results: lsqnet bench on MNIST and Fashion-MNIST, then the README's headline
# and the docs pages (docs/benchmarks/) regenerated from the results. Needs LSQNET_DATA (or
# the files in the cache) and the extra lsqnet[bench]. About 50 minutes on 2 cores; run it on
# a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
LSQNET=${LSQNET:-.venv/bin/lsqnet}
PYTHON=${PYTHON:-.venv/bin/python}
for dataset in mnist fashion-mnist; do
    "$LSQNET" bench --dataset "$dataset" --hidden 256 1024 --epochs 10 --seeds 3 \
        --evals-per-epoch 4 --tune-epochs 3 \
        --out "benchmarks/results/bench/$dataset" "$@"
done
"$LSQNET" bench --suite tabular --out benchmarks/results/tabular  # about 15 minutes
"$PYTHON" benchmarks/update_readme.py
