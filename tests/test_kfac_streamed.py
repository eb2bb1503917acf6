"""Kronecker-factored steps on streamed data (row blocks, chunks, Dask): the same model as the
fit in memory, in float64 to 1e-8 relative, with and without sample weights; the rows a pass
gathers (:func:`lsqnet.training.sources.gather`), and the memory a streamed fit holds."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from lsqnet import BPLSClassifier, BPLSRegressor
from lsqnet.bpls import class_targets
from lsqnet.network import init_network
from lsqnet.streaming import ArrayChunks, IterableChunks
from lsqnet.training import InMemory, kfac
from lsqnet.training.kfac import KFACOptions, fit
from lsqnet.training.sources import gather

RTOL = 1e-8  # float64: only the order of the sums differs


def _problem(n=1200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    score = np.tanh(X @ rng.normal(size=(d, 3)))
    labels = np.argmax(score + 0.3 * rng.normal(size=(n, 3)), axis=1)
    y = score[:, 0] + 0.5 * score[:, 1] * score[:, 2] + 0.1 * rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, n)
    w[::5] = 0.0
    return X, y, labels, w


def _assert_same_network(got, ref):
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=RTOL * max(np.abs(b).max(), 1.0))


def _assert_same_model(got, ref):
    _assert_same_network(got.coefs_ + got.intercepts_, ref.coefs_ + ref.intercepts_)
    assert len(got.history_) == len(ref.history_)
    for a, b in zip(got.history_, ref.history_, strict=True):
        assert a["objective"] == pytest.approx(b["objective"], rel=RTOL)
        assert a.get("retries") == b.get("retries")


@pytest.fixture
def one_batch_a_pass(monkeypatch):
    """Gathers of one mini-batch: every pass of a step brings in the rows of one batch."""
    monkeypatch.setattr(kfac, "GATHER_BYTES", 1)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", ["regression", "softmax"])
def test_streamed_estimators_equal_the_fit_in_memory(task, weighted, one_batch_a_pass):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    X, y, labels, w = _problem()
    w = w if weighted else None
    if task == "regression":
        def make(**extra):
            return BPLSRegressor(hidden_layer_sizes=(8,), method="kfac", max_iter=3,
                                 random_state=0, **extra)
        target = y
    else:
        def make(**extra):
            return BPLSClassifier(hidden_layer_sizes=(8,), method="kfac", max_iter=3,
                                  output_activation="softmax", random_state=0, **extra)
        target = labels
    memory = make().fit(X, target, sample_weight=w)
    assert memory.method_ == "kfac" and "passes" not in memory.history_[-1]
    blocks = make(batch_size=150).fit(X, target, sample_weight=w)
    edges = [0, 100, 433, 900, 1200]  # uneven chunks
    rows = [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    chunks = make().fit_chunks([
        (X[r], target[r]) if w is None else (X[r], target[r], w[r]) for r in rows
    ])
    with dask.config.set(scheduler="synchronous"):
        on_dask = make().fit(
            da.from_array(X, chunks=(150, -1)), da.from_array(target, chunks=150),
            sample_weight=None if w is None else da.from_array(w, chunks=150),
        )
    for model in (blocks, chunks, on_dask):
        assert model.method_ == "kfac" and model.history_[-1]["passes"] > 0
        _assert_same_model(model, memory)
    # the same blocks as batch_size=150: the same operations, counted on the workers
    assert on_dask.flops_ == blocks.flops_ and on_dask.flops_exact_


def test_dask_cluster_equals_the_fit_in_memory():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    X, _, labels, w = _problem(n=600)
    params = dict(hidden_layer_sizes=(8,), method="kfac", max_iter=2,
                  output_activation="softmax", random_state=0)
    memory = BPLSClassifier(**params).fit(X, labels, sample_weight=w)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        got = BPLSClassifier(**params).fit(
            da.from_array(X, chunks=(130, -1)), da.from_array(labels, chunks=130),
            sample_weight=da.from_array(w, chunks=130),
        )
    _assert_same_model(got, memory)


def _net(d, k, out, seed=1):
    return init_network((d, 8, k), "tanh", out, "fan_in", np.random.default_rng(seed),
                        np.float64)


def _sources(X, Y, labels, w, block):
    """The data in memory, and in row blocks of ``block`` rows."""
    memory = InMemory(X, Y, labels, w)
    blocks = ArrayChunks(
        X, lambda a, b: (Y[a:b], None if labels is None else labels[a:b]), block, np.float64,
        weights=w,
    )
    return memory, blocks


@pytest.mark.parametrize("settings", [
    dict(),
    dict(gram_rows=150, eval_rows=200),
    dict(batches_per_step=7, gram_rows=150, gather_rows=200),
    dict(step_size=1e3, damping=1e-6, max_retries=3, gather_rows=64),
    dict(project_iter=0, output_iter=0),
], ids=["defaults", "row-subsets", "steps-across-epochs", "retries", "no-projection"])
@pytest.mark.parametrize("task", ["regression", "softmax", "sigmoid"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_fit_on_row_blocks_equals_the_fit_in_memory(settings, task, weighted):
    X, y, labels, w = _problem(n=400, d=5)
    w = w if weighted else None
    if task == "regression":
        Y, labels, out = np.column_stack([y, y**2]), None, "identity"
    else:
        Y, out = class_targets(labels, 3, task, np.float64), task
    opts = KFACOptions(**{"max_iter": 4, "batch_size": 64, "tol": 0.0, "output_iter": 3,
                          "step_size": 0.3, **settings})
    memory, blocks = _sources(X, Y, labels, w, 70)
    ref = fit(memory, _net(5, Y.shape[1], out), opts, classification=task != "regression")
    got = fit(blocks, _net(5, Y.shape[1], out), opts, classification=task != "regression")
    _assert_same_network(
        [a for layer in got.network.layers for a in (layer.weight, layer.bias)],
        [a for layer in ref.network.layers for a in (layer.weight, layer.bias)],
    )
    assert len(got.history) == len(ref.history)
    for a, b in zip(got.history, ref.history, strict=True):
        assert a["objective"] == pytest.approx(b["objective"], rel=RTOL)
        assert a.get("retries") == b.get("retries") and a["passes"] > 0
    if "max_retries" in settings:
        assert any(entry.get("retries", 0) > 0 for entry in ref.history)


def test_sparse_blocks_and_chunks_with_and_without_weights_equal_the_fit_in_memory():
    X, _, labels, w = _problem(n=300, d=5)
    X[np.abs(X) < 0.8] = 0.0
    Y = class_targets(labels, 3, "softmax", np.float64)
    opts = KFACOptions(max_iter=3, batch_size=50, tol=0.0, gram_rows=120, gather_rows=100)
    ones = w.copy()
    ones[150:] = 1.0  # the chunks of rows 150 on come as pairs: their rows weigh 1
    ref = fit(InMemory(X, Y, labels, ones), _net(5, 3, "softmax"), opts, classification=True)
    csr = sp.csr_matrix(X)
    blocks = ArrayChunks(csr, lambda a, b: (Y[a:b], labels[a:b]), 40, np.float64, weights=ones)
    edges = [0, 90, 150, 210, 300]
    chunks = IterableChunks(
        [(X[a:b], Y[a:b], ones[a:b]) if a < 150 else (X[a:b], Y[a:b])
         for a, b in zip(edges[:-1], edges[1:], strict=True)],
        lambda Xc, Yc, wc: (Xc, Yc, np.argmax(Yc, axis=1), wc), 5,
    )
    for source in (blocks, chunks):
        got = fit(source, _net(5, 3, "softmax"), opts, classification=True)
        _assert_same_network(
            [layer.weight for layer in got.network.layers],
            [layer.weight for layer in ref.network.layers],
        )


def test_a_pass_gathers_at_most_gather_rows(monkeypatch):
    X, _, labels, _ = _problem(n=500, d=4)
    Y = class_targets(labels, 3, "softmax", np.float64)
    sizes = []

    def counted(source, rows):
        sizes.append(len(rows))
        return gather(source, rows)

    monkeypatch.setattr(kfac, "gather", counted)
    passes = {}
    for rows in (40, 100, None):
        sizes.clear()
        opts = KFACOptions(max_iter=2, batch_size=40, tol=0.0, gather_rows=rows, output_iter=0)
        _, blocks = _sources(X, Y, labels, None, 60)
        result = fit(blocks, _net(4, 3, "softmax"), opts, classification=True)
        passes[rows] = result.history[-1]["passes"]
        assert max(sizes) <= (rows or 500) and sum(sizes) % 500 == 0  # whole epochs
    assert passes[40] > passes[100] > passes[None]


def test_a_streamed_fit_holds_far_less_than_the_data(tmp_path):
    rng = np.random.default_rng(3)
    n, d = 20000, 200
    path = tmp_path / "X.npy"
    np.save(path, rng.normal(size=(n, d)))
    X = np.load(path, mmap_mode="r")
    labels = (np.asarray(X[:, 0]) > 0).astype(np.intp)
    Y = class_targets(labels, 2, "softmax", np.float64)
    blocks = ArrayChunks(X, lambda a, b: (Y[a:b], labels[a:b]), 500, np.float64)
    opts = KFACOptions(max_iter=1, batch_size=256, gather_rows=512, project_iter=1,
                       output_iter=1, gram_rows=2000, tol=0.0)
    net = init_network((d, 16, 2), "tanh", "softmax", "fan_in", rng, np.float64)
    tracemalloc.start()
    try:
        fit(blocks, net, opts, classification=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # X is 32 MB; a pass holds a block and the gathered rows (0.8 MB each), the fit row
    # indices (8 bytes a row): about 4 MB
    assert peak < X.nbytes / 4, peak


def test_gather_returns_the_rows_asked_for_in_their_order():
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    from lsqnet._dask import DaskChunks

    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3))
    Y = rng.normal(size=(50, 2))
    w = rng.uniform(size=50)
    rows = np.array([49, 3, 3, 17, 0, 31, 18])
    _, blocks = _sources(X, Y, None, w, 7)
    dask_chunks = DaskChunks(
        da.from_array(X, chunks=(11, 3)), da.from_array(Y, chunks=(11, 2)),
        lambda Xb, Yb: (np.asarray(Xb), np.asarray(Yb), None), da.from_array(w, chunks=11),
    )
    with dask.config.set(scheduler="synchronous"):
        for source in (InMemory(X, Y, None, w), blocks, dask_chunks):
            got = gather(source, rows)
            np.testing.assert_array_equal(got.X, X[rows])
            np.testing.assert_array_equal(got.Y, Y[rows])
            np.testing.assert_array_equal(got.weights, w[rows])
            assert got.labels is None
    sparse = ArrayChunks(sp.csr_matrix(X), lambda a, b: (Y[a:b], None), 7, np.float64)
    got = gather(sparse, rows)
    assert sp.issparse(got.X)
    np.testing.assert_array_equal(got.X.toarray(), X[rows])
    with pytest.raises(IndexError, match="1 of the 2 rows asked for are not rows of the source"):
        gather(blocks, np.array([2, 50]))


def test_bad_streamed_data_is_refused_naming_the_rows():
    X, _, labels, _ = _problem(n=60, d=4)
    Y = class_targets(labels, 3, "softmax", np.float64)
    opts = KFACOptions(max_iter=1)
    bad = X.copy()
    bad[23, 1] = np.nan
    _, blocks = _sources(bad, Y, labels, None, 10)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(rows 20 to 29\)"):
        fit(blocks, _net(4, 3, "softmax"), opts, classification=True)
    _, blocks = _sources(X[:, :3], Y, labels, None, 10)
    with pytest.raises(ValueError, match="X has 3 columns and Y 3; the network maps 4"):
        fit(blocks, _net(4, 3, "softmax"), opts, classification=True)
    _, blocks = _sources(X[:1], Y[:1], labels[:1], None, 10)
    with pytest.raises(ValueError, match="at least 2 samples; got 1"):
        fit(blocks, _net(4, 3, "softmax"), opts, classification=True)
    _, blocks = _sources(X, Y, labels, np.zeros(60), 10)
    with pytest.raises(ValueError, match="every sample weight is 0"):
        fit(blocks, _net(4, 3, "softmax"), opts, classification=True)
