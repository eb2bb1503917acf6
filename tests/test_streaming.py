"""Fits from chunks (lsqnet.streaming): ``batch_size`` on arrays and memmaps, ``fit_chunks`` on
collections of chunks, and ``partial_fit`` of single-layer models.

The reference is always the in-memory fit of the same estimator: chunked sums differ from it
only by the order of the additions, so in float64 weights agree to 1e-8 relative (1e-10 for
``partial_fit``, a single solve); the numbers of sweeps agree exactly. Bad chunks raise a
ValueError or TypeError naming the argument and leave a fitted estimator unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression

from lsqnet import BPLSClassifier, BPLSRegressor, load
from lsqnet.exceptions import SolverFallbackWarning
from lsqnet.streaming import ArrayChunks, IterableChunks

RTOL = 1e-8


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=6, n_targets=2, noise=1.0, random_state=0)
    return X / X.std(), y / y.std()


def assert_same_fit(a, b, rtol=RTOL):
    assert len(a.coefs_) == len(b.coefs_)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert u.dtype == v.dtype
        scale = max(np.abs(u).max(), 1.0)
        np.testing.assert_allclose(v, u, rtol=0, atol=rtol * scale)
    assert len(a.history_) == len(b.history_)
    assert [h["layers"] for h in a.history_] == [h["layers"] for h in b.history_]
    assert [h["n_samples"] for h in a.history_] == [h["n_samples"] for h in b.history_]
    np.testing.assert_allclose(
        [h["loss"] for h in b.history_], [h["loss"] for h in a.history_], rtol=max(rtol, 1e-9)
    )
    assert a.solver_ == b.solver_


def state(est):
    """Everything a failed fit must leave unchanged."""
    return {
        key: [np.copy(a) for a in value] if isinstance(value, list) and key.endswith("s_")
        else value
        for key, value in vars(est).items()
    }


def assert_unchanged(est, before):
    after = state(est)
    assert set(after) == set(before)
    for key, value in before.items():
        if isinstance(value, list) and key.endswith("s_"):
            for u, v in zip(value, after[key], strict=True):
                np.testing.assert_array_equal(u, v)
        else:
            assert after[key] is value or after[key] == value, key


CLASSIFIER_CASES = [
    dict(hidden_layer_sizes=(16,), max_iter=3),
    dict(hidden_layer_sizes=(16, 8), activation="relu", max_iter=3, tol=0.0),
    dict(hidden_layer_sizes=(16,), init="samples", max_iter=2, refit_output=True),
    dict(hidden_layer_sizes=(24,), init="samples", max_iter=0, refit_output=True,
         activation="relu"),
    dict(hidden_layer_sizes=(24,), init="patches", image_shape=(8, 8), max_iter=0,
         refit_output=True, activation="relu"),
    dict(hidden_layer_sizes=(16,), iteration_rule="misclassified", max_iter=4),
    dict(hidden_layer_sizes=(16,), hidden_target="min_norm", output_activation="softmax",
         max_iter=2),
    dict(hidden_layer_sizes=(), max_iter=2),
]


@pytest.mark.parametrize("params", CLASSIFIER_CASES, ids=str)
@pytest.mark.parametrize("batch_size", [1000, 128, 77])
def test_batch_size_equals_in_memory_fit_classifier(digits, params, batch_size):
    X, y = digits
    ref = BPLSClassifier(random_state=0, **params).fit(X, y)
    chunked = BPLSClassifier(random_state=0, batch_size=batch_size, **params).fit(X, y)
    assert_same_fit(ref, chunked)
    np.testing.assert_array_equal(chunked.predict(X), ref.predict(X))
    assert chunked.history_[-1]["passes"] >= 1


@pytest.mark.parametrize("params", [
    dict(hidden_layer_sizes=(12,), max_iter=3),
    dict(hidden_layer_sizes=(12, 6), activation="sigmoid", max_iter=2, tol=0.0),
    dict(hidden_layer_sizes=(), max_iter=1),
], ids=str)
def test_batch_size_equals_in_memory_fit_regressor(regression, params):
    X, Y = regression
    for y in (Y, Y[:, 0]):
        ref = BPLSRegressor(random_state=0, **params).fit(X, y)
        chunked = BPLSRegressor(random_state=0, batch_size=50, **params).fit(X, y)
        assert_same_fit(ref, chunked)
        assert chunked.predict(X).shape == y.shape


def test_passes_are_as_documented(digits):
    # L layers: L passes per sweep plus one for the loss; refit: two more; samples: two first.
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8, 8), max_iter=3, tol=0.0, random_state=0,
                         batch_size=100).fit(X, y)
    assert [h["passes"] for h in clf.history_] == [4 * i for i in range(1, clf.n_iter_ + 1)]
    clf = BPLSClassifier(hidden_layer_sizes=(8,), init="samples", max_iter=1,
                         refit_output=True, random_state=0, batch_size=100).fit(X, y)
    assert [h["passes"] for h in clf.history_] == [2 + 3, 2 + 3 + 2]
    # output_iter: two passes per step (working targets, trial steps)
    clf.set_params(output_iter=3, tol=0.0).fit(X, y)
    assert [h["passes"] for h in clf.history_] == [5, 7, 7 + 2, 7 + 4, 7 + 6]


def test_float32_blocks_stay_float32(digits):
    X, y = digits
    X32 = X.astype(np.float32)
    ref = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=2).fit(X32, y)
    chunked = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=2,
                             batch_size=128).fit(X32, y)
    assert chunked.coefs_[0].dtype == np.float32
    assert_same_fit(ref, chunked, rtol=1e-3)


def test_memmap_input(tmp_path, digits):
    X, y = digits
    path = tmp_path / "X.f4"
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    del out
    ref = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X.astype(np.float32), y)
    for mode in ("r", "r+", "c"):
        mm = np.memmap(path, dtype=np.float32, mode=mode, shape=X.shape)
        if mode == "c":  # a private change, which releasing pages would throw away
            mm[5, 3] = 0.25
        clf = BPLSClassifier(hidden_layer_sizes=(16,), random_state=0, batch_size=64).fit(mm, y)
        if mode == "c":
            assert mm[5, 3] == np.float32(0.25)
        else:
            np.testing.assert_array_equal(mm, X.astype(np.float32))
            assert_same_fit(ref, clf, rtol=1e-3)
        del mm


def test_fit_chunks_equals_fit(digits, regression):
    X, y = digits
    chunks = [(X[i:i + 130], y[i:i + 130]) for i in range(0, len(X), 130)]
    params = dict(hidden_layer_sizes=(16,), random_state=0, max_iter=3, init="samples")
    ref = BPLSClassifier(**params).fit(X, y)
    assert_same_fit(ref, BPLSClassifier(**params).fit_chunks(chunks))
    with_classes = BPLSClassifier(**params).fit_chunks(chunks, classes=np.arange(12))
    np.testing.assert_array_equal(with_classes.classes_, np.arange(12))
    Xr, Yr = regression
    reg_chunks = [(Xr[i:i + 70], Yr[i:i + 70, 0]) for i in range(0, len(Xr), 70)]
    ref = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0).fit(Xr, Yr[:, 0])
    got = BPLSRegressor(hidden_layer_sizes=(8,), random_state=0).fit_chunks(reg_chunks)
    assert_same_fit(ref, got)
    assert got.predict(Xr).shape == (len(Xr),)


class _Reader:
    """Chunks made afresh on every iteration (as a reader of files would)."""

    def __init__(self, X, y, size):
        self.X, self.y, self.size, self.iterations = X, y, size, 0

    def __iter__(self):
        self.iterations += 1
        for i in range(0, len(self.X), self.size):
            yield self.X[i:i + self.size].copy(), self.y[i:i + self.size].copy()


def test_fit_chunks_reads_a_reiterable_once_per_pass(digits):
    X, y = digits
    reader = _Reader(X, y, 200)
    clf = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=2, tol=0.0)
    clf.fit_chunks(reader)
    assert reader.iterations == 1 + clf.history_[-1]["passes"]  # the check, then the passes


@pytest.mark.parametrize("make_bad, match", [
    (lambda X, y: iter([(X, y)]), "iterated more than once"),
    (lambda X, y: (c for c in [(X, y)]), "iterated more than once"),
    (lambda X, y: 5, "iterated more than once"),
    (lambda X, y: [], "chunks is empty"),
    (lambda X, y: [(X, y), (X[:, :-1], y)], "chunk 1: it has 63 features but the first"),
    (lambda X, y: [(X.astype(np.float32), y), (X, y)], "chunk 1: it is float64"),
    (lambda X, y: [(X, y), (X[:0], y[:0])], "X of chunk 1"),
    (lambda X, y: [(X, y), (X[:5], y[:4])], "chunk 1 has 5 rows of X but 4 of y"),
    (lambda X, y: [(X, y), X], "chunk 1 is not an .X, y. pair"),
    (lambda X, y: [(X, y), (np.where(X == 0, np.nan, X), y)], "X of chunk 1"),
], ids=range(10))
def test_fit_chunks_bad_chunks(digits, make_bad, match):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    before = state(clf)
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit_chunks(make_bad(X[:100], y[:100]))
    assert_unchanged(clf, before)


def test_fit_chunks_labels_outside_classes(digits):
    X, y = digits
    with pytest.raises(ValueError, match="labels not in classes"):
        BPLSClassifier().fit_chunks([(X, y)], classes=[0, 1, 2])


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "10"])
def test_batch_size_is_checked(digits, batch_size):
    X, y = digits
    with pytest.raises((ValueError, TypeError), match="batch_size"):
        BPLSClassifier(batch_size=batch_size).fit(X, y)


def test_bad_block_leaves_model_unchanged(digits):
    X, y = digits
    clf = BPLSClassifier(hidden_layer_sizes=(8,), random_state=0, batch_size=100).fit(X, y)
    before = state(clf)
    bad = X.copy()
    bad[450, 2] = np.inf
    with pytest.raises(ValueError, match="rows 400 to 499 contain NaN or infinity"):
        clf.fit(bad, y)
    assert_unchanged(clf, before)
    with pytest.raises(ValueError, match="invalid X: Complex data not supported"):
        clf.fit(X.astype(complex), y)
    with pytest.raises(ValueError, match="invalid X: Expected 2D array"):
        clf.fit(X[:, 0].copy(), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    assert_unchanged(clf, before)


@pytest.mark.parametrize("method", [dict(layer_method="weighted"), dict(solver="qr")])
def test_chunked_fit_refuses_data_based_solvers(digits, method):
    X, y = digits
    with pytest.raises(ValueError, match="summed Gram statistics"):
        BPLSClassifier(hidden_layer_sizes=(8,), batch_size=100, **method).fit(X, y)


def test_sources_sum_over_chunks():
    X = np.arange(20.0).reshape(10, 2)
    targets = lambda start, stop: (X[start:stop, :1], None)  # noqa: E731
    source = ArrayChunks(X, targets, 3, np.dtype(np.float64))
    assert source.map_sum(lambda X, Y, labels, start, w: X.sum()) == X.sum()
    starts = source.map_sum(lambda X, Y, labels, start, w: [start])
    assert starts == [0, 3, 6, 9]
    chunks = IterableChunks(
        [(X[:4], None), (X[4:], None)], lambda a, b, w: (a, a, None, w), 2
    )
    assert chunks.map_sum(lambda X, Y, labels, start, w: [(start, len(X))]) == [(0, 4), (4, 6)]


# -- partial_fit ------------------------------------------------------------------------------


@pytest.mark.parametrize("output_activation, alpha", [
    ("identity", 1.0), ("identity", 0.0), ("tanh", 0.1), ("sigmoid", 1.0),
])
def test_partial_fit_regressor_equals_fit(regression, output_activation, alpha):
    X, Y = regression
    Y = np.tanh(Y) * 0.9 if output_activation != "identity" else Y
    if output_activation == "sigmoid":
        Y = (Y + 1) / 2
    for y in (Y, Y[:, 0]):
        params = dict(hidden_layer_sizes=(), output_activation=output_activation, alpha=alpha)
        ref = BPLSRegressor(**params).fit(X, y)
        est = BPLSRegressor(**params)
        for i in range(0, len(X), 64):
            assert est.partial_fit(X[i:i + 64], y[i:i + 64]) is est
        np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(est.intercepts_[0], ref.intercepts_[0], rtol=1e-10,
                                   atol=1e-12)
        assert est.n_iter_ == len(est.history_) == -(-len(X) // 64)
        assert est.predict(X).shape == y.shape


@pytest.mark.parametrize("output_activation", ["sigmoid", "softmax"])
def test_partial_fit_classifier_equals_fit(digits, output_activation):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"])[y]
    ref = BPLSClassifier(hidden_layer_sizes=(), output_activation=output_activation)
    ref.fit(X, labels)
    est = BPLSClassifier(hidden_layer_sizes=(), output_activation=output_activation)
    est.partial_fit(X[:100], labels[:100], classes=np.unique(labels))
    for i in range(100, len(X), 100):
        est.partial_fit(X[i:i + 100], labels[i:i + 100])
    np.testing.assert_array_equal(est.classes_, ref.classes_)
    np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    assert all(0.0 <= h["accuracy"] <= 1.0 for h in est.history_)


def test_partial_fit_first_chunk_may_miss_classes(digits):
    X, y = digits
    first = y < 5
    est = BPLSClassifier(hidden_layer_sizes=())
    est.partial_fit(X[first], y[first], classes=np.arange(10))
    assert list(est.classes_) == list(range(10))
    est.partial_fit(X[~first], y[~first])
    ref = BPLSClassifier(hidden_layer_sizes=()).fit(np.vstack([X[first], X[~first]]),
                                                    np.concatenate([y[first], y[~first]]))
    np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=1e-10, atol=1e-12)


def test_partial_fit_only_for_single_layer_models(digits):
    X, y = digits
    for est in (BPLSClassifier(), BPLSRegressor(hidden_layer_sizes=(4,))):
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit") as info:
            est.partial_fit(X, y)
        assert "hidden_layer_sizes=()" in str(info.value.__cause__)
        assert "batch_size" in str(info.value.__cause__)
    assert hasattr(BPLSClassifier(hidden_layer_sizes=()), "partial_fit")


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the 1e160 chunk
def test_partial_fit_bad_input_leaves_model_unchanged(digits):
    X, y = digits
    est = BPLSClassifier(hidden_layer_sizes=())
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, y)
    assert not hasattr(est, "coefs_")
    est.partial_fit(X[:300], y[:300], classes=np.arange(10))
    before = state(est)
    stats = est._partial_stats
    cases = [
        ((X[300:, :-1], y[300:]), "features"),
        ((X[300:].astype(np.float32), y[300:]), "float32 but earlier chunks were float64"),
        ((X[:0], y[:0]), "0 sample"),
        ((X[300:], y[300:] + 20), "labels not in classes"),
        ((X[300:], y[300:], np.arange(11)), "differs from the classes of the first call"),
        ((np.full_like(X[300:], np.nan), y[300:]), "NaN"),
        ((X[300:], y[301:]), "inconsistent numbers of samples"),
        ((X[300:] * 1e160, y[300:]),  # finite, but its sums of squares overflow
         r"BPLSClassifier.partial_fit: the least-squares statistics .* overflowed in float64: "
         r"the inputs are too large .* Rescale X"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            est.partial_fit(*args)
        assert_unchanged(est, before)
        assert est._partial_stats is stats
    with pytest.raises(ValueError, match="iteration_rule='all'"):
        clone(est).set_params(iteration_rule="misclassified").partial_fit(
            X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="layer_method='inverse'"):
        clone(est).set_params(solver="svd").partial_fit(X, y, classes=np.arange(10))


def test_partial_fit_continues_fit(regression, digits, tmp_path):
    X, Y = regression
    est = BPLSRegressor(hidden_layer_sizes=()).fit(X[:120], Y[:120])
    est.partial_fit(X[120:], Y[120:])
    ref = BPLSRegressor(hidden_layer_sizes=()).fit(X, Y)
    np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=1e-10, atol=1e-12)
    Xd, yd = digits
    clf = BPLSClassifier(hidden_layer_sizes=(), batch_size=50).fit(Xd[:200], yd[:200])
    clf.partial_fit(Xd[200:], yd[200:])
    ref = BPLSClassifier(hidden_layer_sizes=()).fit(Xd, yd)
    np.testing.assert_allclose(clf.coefs_[0], ref.coefs_[0], rtol=1e-10, atol=1e-12)
    # fit after partial_fit starts afresh
    est.fit(X[:50], Y[:50])
    np.testing.assert_allclose(
        est.coefs_[0], BPLSRegressor(hidden_layer_sizes=()).fit(X[:50], Y[:50]).coefs_[0],
        rtol=1e-12)


def test_partial_fit_needs_the_statistics(regression, tmp_path):
    X, Y = regression
    BPLSRegressor(hidden_layer_sizes=()).fit(X, Y).save(tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    before = state(loaded)
    with pytest.raises(ValueError, match="holds none .it was loaded from a file"):
        loaded.partial_fit(X, Y)
    assert_unchanged(loaded, before)


def test_partial_fit_overflow_of_the_targets_says_rescale_y(regression):
    X, y = regression
    est = BPLSRegressor(hidden_layer_sizes=()).partial_fit(X[:100], y[:100])
    before = state(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow in the sums
        with pytest.raises(ValueError, match=r"BPLSRegressor.partial_fit: .* targets are too "
                                             r"large when squared. Rescale y"):
            est.partial_fit(X[100:], y[100:] * 1e160)
    assert_unchanged(est, before)


def test_partial_fit_regressor_target_shape_must_stay(regression):
    X, Y = regression
    est = BPLSRegressor(hidden_layer_sizes=()).partial_fit(X[:50], Y[:50])
    with pytest.raises(ValueError, match="earlier chunks had 2 target"):
        est.partial_fit(X[50:], Y[50:, 0])


def test_partial_fit_float32_chunks_with_large_means_match_float64():
    # Columns whose means are 300 times their spread: plain float32 sums lose the centred
    # Gram matrix to rounding (the Cholesky check then fails and eigh truncates it); each
    # chunk's sums around its own means, merged by GramStats.+, keep it accurate.
    rng = np.random.default_rng(0)
    X = (300.0 + rng.random((20000, 30))).astype(np.float32)
    w = rng.standard_normal(30)
    y = (X.astype(np.float64) - 300.5) @ w + 0.01 * rng.standard_normal(20000)
    params = dict(hidden_layer_sizes=(), output_activation="identity", alpha=1.0)
    ref = BPLSRegressor(**params, dtype="float64").fit(X.astype(np.float64), y)
    est = BPLSRegressor(**params, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        for i in range(0, len(X), 2000):
            est.partial_fit(X[i:i + 2000], y[i:i + 2000])
    assert est.solver_ == "cholesky"
    np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=0, atol=1e-3 * np.abs(w).max())
    np.testing.assert_allclose(est.predict(X), ref.predict(X), atol=0.05)


@pytest.mark.parametrize(("scale_X", "scale_y", "match"), [
    (1e160, 1.0, "the inputs are too large when squared. Rescale X"),
    (1.0, 1e160, "its targets are too large when squared. Rescale y"),
])
def test_chunked_overflow_errors_match_in_memory_ones(regression, scale_X, scale_y, match):
    X, Y = regression
    params = dict(hidden_layer_sizes=(), output_activation="identity")
    messages = []
    for batch_size in (None, 64):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow in the sums
            with pytest.raises(ValueError, match=match) as info:
                BPLSRegressor(**params, batch_size=batch_size).fit(X * scale_X, Y * scale_y)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
