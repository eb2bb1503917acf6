"""The feature maps: the registry, each map's units and its operation count."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lsqnet
from conftest import predicted_flops
from lsqnet import BPLSClassifier, BPLSRegressor, _flops, count_flops
from lsqnet.features import (
    FEATURE_MAPS,
    IMAGE_MAPS,
    INITS,
    Contrasts,
    FanIn,
    FeatureMap,
    Patches,
    Samples,
    Uniform,
    make_feature_map,
)
from lsqnet.features.contrasts import CONTRAST_RIDGE, CONTRAST_ROWS, contrast_windows
from lsqnet.features.windows import (
    BAND_COLUMNS,
    BAND_MIN_ROWS,
    PATCH_SIZE,
    PATCH_THRESHOLDS,
    banded_product,
    window_sides,
)
from lsqnet.network import init_network


def _build(name, image_shape=(6, 5)):
    return make_feature_map(name, image_shape=image_shape if name in IMAGE_MAPS else None)


def test_registry_lists_every_map_once():
    assert set(FEATURE_MAPS) == {"uniform", "fan_in", "samples", "patches", "contrasts"}
    assert INITS == ("auto", *FEATURE_MAPS)
    assert IMAGE_MAPS == {"patches", "contrasts"}
    for name, cls in FEATURE_MAPS.items():
        assert cls.name == name
        assert isinstance(_build(name), FeatureMap)
    with pytest.raises(TypeError):
        FEATURE_MAPS["mine"] = Samples  # read-only


@pytest.mark.parametrize("name", list(FEATURE_MAPS))
@pytest.mark.parametrize("n", [7, 60, 1500])
def test_every_map_counts_the_operations_it_records(name, n):
    """A map's flops() is what its units() records in the ledger, from sizes alone (image
    maps on 6 x 5 images, more or fewer rows than their row caps)."""
    rng = np.random.default_rng(0)
    X = rng.random((n, 30))
    Y = np.eye(3)[np.arange(n) % 3]
    features = _build(name)
    with _flops.counting() as ledger:
        W, b = features.units(30, 17, np.random.default_rng(1), X=X, Y=Y)
    assert W.shape == (30, 17) and b.shape == (17,)
    assert np.isfinite(W).all() and np.isfinite(b).all()
    assert ledger.total == features.flops(n, 30, 17, 3)
    again = features.units(30, 17, np.random.default_rng(1), X=X, Y=Y)  # a seed, one result
    assert_array_equal(again[0], W)
    assert_array_equal(again[1], b)


def test_auto_is_patches_on_images_and_samples_on_tables():
    assert make_feature_map("auto") == Samples()
    assert make_feature_map("auto", image_shape=(28, 28)) == Patches((28, 28))
    assert make_feature_map("auto", image_shape=(4, 7), patch_size=(0.5, 1.0)) == Patches(
        (4, 7), (0.5, 1.0)
    )
    built = Contrasts((3, 3))
    assert make_feature_map(built) is built
    with pytest.raises(ValueError, match="'init' parameter of init_network must be one of 'auto'"):
        make_feature_map("pixels")


def test_later_layers_are_fan_in_unless_the_first_is_uniform(rng):
    X = rng.random((50, 4))
    for first, later in ((Samples(), FanIn()), (FanIn(), FanIn()), (Uniform(), Uniform())):
        net = init_network((4, 6, 5, 2), "tanh", "identity", first, np.random.default_rng(3),
                           np.float64, X=X)
        draws = np.random.default_rng(3)
        first.units(4, 6, draws, X=X)
        for layer, n_in, n_out in zip(net.layers[1:], (6, 5), (5, 2), strict=True):
            W, b = later.units(n_in, n_out, draws)
            assert_array_equal(layer.weight, W)
            assert_array_equal(layer.bias, b)


def test_maps_reading_data_need_it(rng):
    with pytest.raises(ValueError, match="init='samples' draws its units from the training"):
        init_network((4, 6, 2), "tanh", "identity", "samples", rng, np.float64)


@pytest.mark.parametrize("image_shape", [(4, 9), (9, 4)])
def test_patches_on_rectangular_images_stay_inside_the_image(rng, image_shape):
    rows, cols = image_shape
    X = rng.random((200, rows * cols)) + 0.1
    W, _ = Patches(image_shape, (0.5, 1.0)).units(rows * cols, 50, rng, X=X)
    low, high = window_sides(image_shape, (0.5, 1.0))
    assert (low, high) == (2, 4)
    sides = set()
    for unit in W.T:
        r, c = np.nonzero(unit.reshape(rows, cols))
        assert np.ptp(r) == np.ptp(c) and low <= np.ptp(r) + 1 <= high  # square, in the image
        sides.add(np.ptp(r) + 1)
    assert sides == {2, 3, 4}
    first = np.argmax(W != 0, axis=0)
    assert np.all(np.diff(first) >= 0)  # ordered by first pixel, for banded products


def test_presets_work_on_tables_and_on_images():
    """from_preset gives a working model on a table (wine, diabetes) and on images."""
    from sklearn.datasets import load_diabetes, load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xd, yd = load_diabetes(return_X_y=True)
    digits, labels = load_digits(return_X_y=True)
    for preset in lsqnet.PRESETS:
        clf = BPLSClassifier.from_preset(preset, random_state=0).fit(X, y)
        assert clf.score(X, y) > 0.9
        reg = BPLSRegressor.from_preset(preset, random_state=0).fit(Xd, yd)
        assert np.isfinite(reg.predict(Xd)).all()
        if lsqnet.PRESETS[preset].get("init") == "auto":
            assert clf.network_.layers[0].product is None  # samples: plain products
            on_images = BPLSClassifier.from_preset(preset, image_shape=(8, 8), random_state=0)
            assert on_images.fit(digits, labels).score(digits, labels) > 0.95
            assert on_images.network_.layers[0].product is not None  # windows: banded


MNIST_ROOT = os.environ.get("LSQNET_DATA")


@pytest.mark.skipif(
    not MNIST_ROOT or not (Path(MNIST_ROOT) / "mnist").is_dir(),
    reason="LSQNET_DATA is unset or holds no mnist/ files",
)
def test_presets_on_mnist_use_windows_only_when_told_the_image_shape():
    """Every preset fits MNIST (2000 training rows here); the image presets take local
    receptive fields with image_shape=(28, 28), and whole-sample units without it."""
    from lsqnet.datasets import load

    data = load("mnist", data_home=MNIST_ROOT, download=False)
    X, y = data.X_train[:2000], data.y_train[:2000]
    X_test, y_test = data.X_test[:2000], data.y_test[:2000]
    for preset in lsqnet.PRESETS:
        clf = BPLSClassifier.from_preset(preset, random_state=0).fit(X, y)
        assert clf.score(X_test, y_test) > 0.6
        if lsqnet.PRESETS[preset].get("init") == "auto":
            windows = BPLSClassifier.from_preset(preset, image_shape=(28, 28), random_state=0)
            windows.fit(X, y)
            assert windows.network_.layers[0].product is not None
            assert clf.network_.layers[0].product is None
            assert windows.score(X_test, y_test) > 0.85


@pytest.mark.parametrize(("n", "max_iter"), [(80, 0), (1200, 2)])
def test_count_flops_with_patch_init(rng, n, max_iter):
    """init="patches" (images, here 3 x 3): windows and thresholds are counted too, over
    min(n, PATCH_BIAS_ROWS) rows."""
    sizes = [9, 12, 3]
    X = rng.standard_normal((n, 9))
    est = BPLSClassifier(
        hidden_layer_sizes=(12,), activation="relu", init="patches", image_shape=(3, 3),
        max_iter=max_iter,
        tol=0.0, refit_output=True, random_state=0,
    ).fit(X, rng.permutation(np.arange(n) % 3))
    assert est.flops_exact_
    assert predicted_flops(est, sizes, n, True) == est.flops_


@pytest.mark.parametrize(
    ("patch_size", "pixels"), [(PATCH_SIZE, (3, 6)), ((0.15, 0.5), (2, 6)), ((0.5, 0.5), (6, 6))]
)
def test_patch_init_units_are_windows_of_centred_samples(rng, patch_size, pixels):
    side, h = 12, 40
    X = rng.random((300, side * side))
    assert window_sides((side, side), patch_size) == pixels
    net = init_network((side * side, h, 2), "relu", "sigmoid", Patches((side, side), patch_size),
                       np.random.default_rng(0), np.float64, X=X)
    W, b = net.layers[0].weight, net.layers[0].bias
    assert_allclose(np.linalg.norm(W, axis=0), 1.0, rtol=1e-12)
    mean = X.mean(axis=0)
    sides = set()
    for unit in range(h):
        rows, cols = np.nonzero(W[:, unit].reshape(side, side))
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert height == width and pixels[0] <= height <= pixels[1]  # a square window
        sides.add(height)
        # inside it, a centred training sample
        window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        patches = (X - mean).reshape(-1, side, side)[(slice(None), *window)].reshape(300, -1)
        unit_patch = W[:, unit].reshape(side, side)[window].ravel()
        cosines = patches @ unit_patch / np.linalg.norm(patches, axis=1)
        assert cosines.max() > 1 - 1e-12
    assert len(sides) == pixels[1] - pixels[0] + 1  # every side drawn (40 units)
    # thresholds moved from the centring bias by u times each unit's spread (over all 300
    # rows, fewer than PATCH_BIAS_ROWS), u in PATCH_THRESHOLDS: both ways
    u = (-(mean @ W) - b) / np.std(X @ W, axis=0)
    low, high = PATCH_THRESHOLDS
    assert np.all((u >= low - 1e-12) & (u < high)) and u.min() < 0 < u.max()


@pytest.mark.parametrize("patch_size", [(0.0, 0.5), (0.6, 0.5), (0.2, 1.5), (0.3,), "ab", None])
def test_patch_size_is_validated(rng, patch_size):
    with pytest.raises(ValueError, match=r"'patch_size' parameter of BPLSClassifier.*0 < low"):
        BPLSClassifier(init="patches", image_shape=(4, 4), patch_size=patch_size).fit(
            rng.random((20, 16)), np.arange(20) % 2
        )


@pytest.mark.parametrize("init", ["patches", "contrasts"])
def test_image_maps_need_the_image_shape(rng, init):
    """Nothing is inferred from a square number of features: 16 features are no 4 x 4 image
    unless image_shape says so, and the advice given is accepted."""
    X, y = rng.random((20, 16)), np.arange(20) % 2
    with pytest.raises(ValueError, match=f"init='{init}' needs the shape of the images: pass "
                       r"image_shape=\(rows, cols\) to BPLSClassifier"):
        BPLSClassifier(init=init).fit(X, y)
    BPLSClassifier(init=init, image_shape=(4, 4), max_iter=1).fit(X, y)
    BPLSClassifier(init="samples", max_iter=1).fit(X, y)
    BPLSClassifier(init="auto", max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match=r"image_shape.*is \(3, 5\), 15 pixels, but X has 16"):
        BPLSClassifier(init=init, image_shape=(3, 5)).fit(X, y)


@pytest.mark.parametrize("image_shape", [(4,), (4, 0), (4.0, 4), "4x4", (True, 16), 16])
def test_image_shape_is_validated(rng, image_shape):
    with pytest.raises(ValueError, match=r"'image_shape' parameter of BPLSClassifier must be"):
        BPLSClassifier(init="patches", image_shape=image_shape).fit(
            rng.random((20, 16)), np.arange(20) % 2
        )


@pytest.mark.parametrize(
    ("n", "max_iter", "patch_size", "classification"),
    [(80, 0, PATCH_SIZE, True), (CONTRAST_ROWS + 500, 1, (0.3, 1.0), True),
     (200, 1, (0.3, 0.7), False)],
)
def test_count_flops_with_contrast_init(rng, n, max_iter, patch_size, classification):
    """init="contrasts": the covariances over min(n, CONTRAST_ROWS) rows, one solve per
    window (its size set by patch_size) and the thresholds are counted exactly."""
    sizes = [9, 12, 3 if classification else 1]
    X = rng.standard_normal((n, 9))
    params = dict(
        hidden_layer_sizes=(12,), activation="relu", init="contrasts", image_shape=(3, 3),
        max_iter=max_iter,
        tol=0.0, refit_output=True, random_state=0, patch_size=patch_size,
    )
    if classification:
        est = BPLSClassifier(**params).fit(X, rng.permutation(np.arange(n) % 3))
    else:
        est = BPLSRegressor(**params, output_activation="tanh").fit(X, 0.5 * np.tanh(X[:, 0]))
    assert est.flops_exact_
    assert predicted_flops(est, sizes, n, classification) == est.flops_
    image = {"init": "contrasts", "image_shape": (3, 3)}
    assert count_flops(n, sizes, n_iter=0, **image, patch_size=(1.0, 1.0)) != (
        count_flops(n, sizes, n_iter=0, **image, patch_size=(0.3, 0.3))
    )


@pytest.mark.parametrize(("k", "patch_size"), [(4, PATCH_SIZE), (4, (0.15, 0.5)), (1, (0.5, 1.0))])
def test_contrast_init_units_are_local_least_squares_fits(rng, k, patch_size):
    """Each unit is, inside its window, the ridge least-squares fit (SciPy) of the difference
    of two target columns (a single column: the column or its negative), over all the rows
    (fewer than CONTRAST_ROWS), scaled to unit norm; each window side is used equally often."""
    side, h, n = 12, 40, 300
    X = rng.random((n, side * side))
    Y = rng.random((n, k))
    net = init_network((side * side, h, k), "relu", "sigmoid", Contrasts((side, side), patch_size),
                       np.random.default_rng(0), np.float64, X=X, Y=Y)
    W, b = net.layers[0].weight, net.layers[0].bias
    assert_allclose(np.linalg.norm(W, axis=0), 1.0, rtol=1e-12)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    if k > 1:
        contrasts = [Yc[:, a] - Yc[:, c] for a in range(k) for c in range(k) if a != c]
    else:
        contrasts = [Yc[:, 0], -Yc[:, 0]]
    low, high = window_sides((side, side), patch_size)
    sides = []
    for unit in range(h):
        rows, cols = np.nonzero(W[:, unit].reshape(side, side))
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert height == width and low <= height <= high
        sides.append(height)
        window = np.zeros((side, side), bool)
        window[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1] = True
        A = Xc[:, window.ravel()]
        G = A.T @ A
        G += CONTRAST_RIDGE * np.trace(G) / G.shape[0] * np.eye(G.shape[0])
        fits = [scipy.linalg.solve(G, A.T @ c, assume_a="pos") for c in contrasts]
        fits = [f / np.linalg.norm(f) for f in fits]
        unit_fit = W[window.ravel(), unit]
        assert max(f @ unit_fit for f in fits) > 1 - 1e-10
    counts = np.bincount(sides)[low:]
    assert counts.max() - counts.min() <= 1 and dict(enumerate(counts, low)) == (
        contrast_windows((side, side), h, patch_size)
    )
    # thresholds as for "patches": u times each unit's spread, u in PATCH_THRESHOLDS
    u = (-(X.mean(axis=0) @ W) - b) / np.std(X @ W, axis=0)
    assert np.all((u >= PATCH_THRESHOLDS[0] - 1e-9) & (u < PATCH_THRESHOLDS[1] + 1e-9))


def test_contrast_init_on_constant_pixels_gives_dead_units_not_nans(rng):
    """Windows over pixels that never vary (the blank border of digits) have nothing to fit:
    their units are zero (the floor of the ridge keeps the solve defined), the others are
    unit norm, and a fit on such data works."""
    X = rng.random((200, 64))
    X[:, :32] = 0.0  # the top half of every 8 x 8 image is blank
    y = np.arange(200) % 3
    Y = np.eye(3)[y]
    net = init_network((64, 60, 3), "relu", "softmax", Contrasts((8, 8), (0.25, 0.25)),
                       np.random.default_rng(1), np.float64, X=X, Y=Y)
    W, b = net.layers[0].weight, net.layers[0].bias
    assert np.isfinite(W).all() and np.isfinite(b).all()
    norms = np.linalg.norm(W, axis=0)
    dead = norms == 0
    assert dead.any() and not dead.all()
    assert_allclose(norms[~dead], 1.0, rtol=1e-12)
    clf = BPLSClassifier(hidden_layer_sizes=(60,), activation="relu", init="contrasts",
                         image_shape=(8, 8), max_iter=0, refit_output=True,
                         random_state=0).fit(X, y)
    assert np.isfinite(clf.coefs_[1]).all() and clf.score(X, y) > 1 / 3


@given(h=st.integers(1, 500), low=st.integers(1, 28), extra=st.integers(0, 27))
def test_contrast_windows_share_the_units_evenly(h, low, extra):
    high = min(28, low + extra)
    counts = contrast_windows((28, 28), h, (low / 28, high / 28))
    assert sum(counts.values()) == h
    assert set(counts) <= set(range(low, high + 1)) and min(counts) == low
    assert max(counts.values()) - min(counts.values()) <= 1


def test_contrast_init_needs_targets_in_memory(rng):
    X, y = rng.random((40, 16)), np.arange(40) % 2
    with pytest.raises(ValueError, match="init='contrasts'.*batch_size.*init='patches'"):
        BPLSClassifier(init="contrasts", image_shape=(4, 4), batch_size=10).fit(X, y)
    with pytest.raises(ValueError, match="init='contrasts'.*pass Y"):
        init_network((16, 4, 1), "relu", "sigmoid", Contrasts((4, 4)), rng, np.float64, X=X)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.sampled_from([BAND_MIN_ROWS - 1, BAND_MIN_ROWS, 1500]),
    h=st.integers(1, 3 * BAND_COLUMNS + 7),
    dtype=st.sampled_from([np.float32, np.float64]),
    band=st.integers(0, 20),
    seed=st.integers(0, 2**16),
)
def test_banded_product_is_the_product(n, h, dtype, band, seed):
    """Against NumPy's product: weights whose columns use a window of ``band`` rows starting
    at sorted positions (as ordered local receptive fields), with dead columns, and dense
    weights; X of either dtype, C or Fortran order, a non-contiguous view."""
    rng = np.random.default_rng(seed)
    d = 40
    W = rng.standard_normal((d, h)).astype(dtype)
    first = np.sort(rng.integers(0, d, size=h))
    rows = np.arange(d)[:, None]
    W[(rows < first) | (rows >= first + band)] = 0.0  # band 0: every column dead
    X = rng.standard_normal((n, 2 * d)).astype(dtype)[:, ::2]
    for X_, W_ in ((X, W), (np.asfortranarray(X), W), (X, rng.standard_normal((d, h)))):
        got = banded_product(X_, W_)
        expected = X_ @ W_
        assert got.dtype == expected.dtype and got.shape == expected.shape
        tol = 1e-4 if np.result_type(X_, W_) == np.float32 else 1e-12
        assert_allclose(got, expected, rtol=tol, atol=tol * np.sqrt(d))


def test_dense_layers_of_ordered_windows_take_bands(rng):
    """init="patches" orders its units by their first pixel and gives its layer the banded
    product, which finds bands (it multiplies a slice of X; a dense product would read every
    row of it)."""
    X = rng.random((BAND_MIN_ROWS, 784))
    net = init_network((784, 4 * BAND_COLUMNS, 10), "relu", "softmax",
                       Patches((28, 28), (0.15, 0.36)), np.random.default_rng(0), np.float64, X=X)
    W = net.layers[0].weight
    first = np.argmax(W != 0, axis=0)
    assert np.all(np.diff(first) >= 0)
    seen = []

    class Spy(np.ndarray):  # records the slices of X that matmul reads
        def __getitem__(self, key):
            seen.append(key)
            return np.asarray(self)[key]

    assert_allclose(net.layers[0].pre_activation(X.view(Spy)), X @ W + net.layers[0].bias,
                    rtol=1e-12, atol=1e-12)
    bands = [k[1] for k in seen if isinstance(k, tuple) and isinstance(k[1], slice)]
    assert len(bands) == 4 and sum(b.stop - b.start for b in bands) < 0.75 * 4 * 784
