"""``lsqnet.count_flops`` for every counted method: a Levenberg–Marquardt or K-FAC fit's count
from its sizes and history equals the operations its ledger recorded (``flops_``), in memory
and over chunks, for the regressor and both classifiers; bad combinations are refused with
advice. (The counts of BPLS fits are tested with BPLS, in ``test_bpls.py``.)"""

from __future__ import annotations

import numpy as np
import pytest

from lsqnet import BPLSClassifier, BPLSRegressor, LSQRegressor, count_flops
from lsqnet.solvers._gram import BLOCK_ROWS
from lsqnet.training import levenberg_marquardt as lm


def lm_fit(kind, hidden, rng, n=97, **params):
    """A fit of ``method="lm"`` on ``n`` samples of 3 features, and its layer sizes."""
    X = rng.standard_normal((n, 3))
    params = dict(hidden_layer_sizes=hidden, method="lm", random_state=0,
                  **{"max_iter": 4, **params})
    if kind == "regressor":
        est = BPLSRegressor(**params).fit(X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2])
        k = 1
    elif kind == "two targets":
        est = BPLSRegressor(**params).fit(X, np.column_stack([np.sin(X[:, 0]), X[:, 1]]))
        k = 2
    else:
        est = BPLSClassifier(output_activation=kind, **params).fit(X, np.arange(n) % 3)
        k = 3
    return est, [3, *hidden, k]


def counted(est, sizes, n, **kwargs):
    """What count_flops predicts for ``est``'s fit on ``n`` samples."""
    activations = [est.activation] * (len(sizes) - 2) + [est.output_activation]
    return count_flops(
        n, sizes, method="lm", history=est.history_, activations=activations,
        classification=hasattr(est, "classes_"), alpha=est.alpha, init=est.init,
        batch_size=None if est.batch_size == "auto" else est.batch_size, **kwargs,
    )


@pytest.mark.parametrize("kind", ["regressor", "two targets", "softmax", "sigmoid"])
@pytest.mark.parametrize("hidden", [(), (5,), (4, 3)])
@pytest.mark.parametrize("batch_size", [None, 40, 500])
def test_lm_count_equals_the_ledger(rng, kind, hidden, batch_size):
    est, sizes = lm_fit(kind, hidden, rng, batch_size=batch_size)
    assert est.method_ == "lm" and est.flops_exact_
    assert len(est.history_) >= 2  # the output layer's solve, then steps
    assert counted(est, sizes, 97) == est.flops_


@pytest.mark.parametrize("params", [
    dict(alpha=0.0), dict(safeguard=False), dict(init="samples"), dict(activation="relu"),
], ids=str)
@pytest.mark.parametrize("batch_size", [None, 30])
def test_lm_count_of_other_settings(rng, params, batch_size):
    est, sizes = lm_fit("softmax", (6,), rng, batch_size=batch_size, **params)
    assert est.flops_exact_ and counted(est, sizes, 97) == est.flops_
    assert ("trials" in est.history_[0]) == est.safeguard


@pytest.mark.parametrize("batch_size", [None, 25])
def test_lm_count_of_an_output_solve_with_shorter_steps(batch_size):
    """The safeguard rejects this output-layer solve (the inverse of the sigmoid pulls the
    targets in by target_eps) and evaluates a shorter step: two trials, each counted."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 3))
    y = (np.sign(X[:, 0]) * 0.999 + 1) / 2
    est = BPLSRegressor(hidden_layer_sizes=(4,), method="lm", max_iter=2,
                        output_activation="sigmoid", target_eps=0.3, random_state=4,
                        batch_size=batch_size).fit(X, y)
    assert est.history_[0]["trials"] == 2
    assert counted(est, [3, 4, 1], 60) == est.flops_
    once = [{**est.history_[0], "trials": 1}, *est.history_[1:]]
    assert count_flops(60, [3, 4, 1], method="lm", history=once, batch_size=batch_size,
                       activations=["tanh", "sigmoid"]) < est.flops_


def test_lm_count_of_chunks_shifted_in_blocks(rng):
    """A single layer's inputs are centred in blocks of BLOCK_ROWS rows within each chunk."""
    n = 2 * BLOCK_ROWS + 100
    X = rng.standard_normal((n, 4))
    y = X @ rng.standard_normal(4)
    for batch_size in (None, BLOCK_ROWS + 50, n):
        est = BPLSRegressor(hidden_layer_sizes=(), method="lm", max_iter=2,
                            batch_size=batch_size).fit(X, y)
        assert counted(est, [4, 1], n) == est.flops_


def test_the_ledger_does_not_depend_on_the_jacobian_blocks(rng, monkeypatch):
    """J is built in blocks of BLOCK_ENTRIES entries; the lower triangle is copied once per
    pass whatever their number, so the count holds for any n."""
    ref, sizes = lm_fit("softmax", (5,), rng)
    monkeypatch.setattr(lm, "BLOCK_ENTRIES", 10 * lm.n_parameters(sizes))  # 10 rows a block
    est, _ = lm_fit("softmax", (5,), np.random.default_rng(0))
    again, _ = lm_fit("softmax", (5,), np.random.default_rng(0))
    monkeypatch.undo()
    whole, _ = lm_fit("softmax", (5,), np.random.default_rng(0))
    assert est.flops_ == again.flops_ == whole.flops_ == counted(whole, sizes, 97)


@pytest.mark.parametrize("batch_size", [None, 30])
def test_lm_count_without_steps(rng, batch_size):
    """max_iter=0, or a monitor that stops the fit at the output layer's solve: the count
    holds the solve alone."""
    est, sizes = lm_fit("softmax", (5,), rng, batch_size=batch_size, max_iter=0,
                        refit_output=True)
    X = rng.standard_normal((97, 3))
    stopped = BPLSClassifier(hidden_layer_sizes=(5,), method="lm", output_activation="softmax",
                             random_state=0, batch_size=batch_size)
    stopped.fit(X, np.arange(97) % 3, monitor=lambda entry, network: True)
    for fit in (est, stopped):
        assert len(fit.history_) == 1 and counted(fit, sizes, 97) == fit.flops_


def test_the_recommended_regressor_is_counted_as_lm(rng):
    X = rng.standard_normal((150, 4))
    est = LSQRegressor(alpha=1.0, hidden_layer_sizes=(6,), random_state=0).fit(X, X[:, 0] ** 2)
    assert est.method_ == "lm" and counted(est, [4, 6, 1], 150) == est.flops_


def test_a_chosen_penalty_is_not_counted(rng):
    """alpha="auto" records the choice of the penalty too, and marks the ledger inexact; the
    count is that of the fit with the penalty chosen."""
    est, sizes = lm_fit("regressor", (5,), rng, alpha="auto")
    assert not est.flops_exact_
    assert 0 < count_flops(97, sizes, method="lm", history=est.history_,
                           activations=["tanh", "identity"], alpha=est.alpha_) < est.flops_


def test_the_penalty_re_estimates_are_counted_from_the_history(rng):
    """Steps that record an ``alpha`` re-estimated the penalty (a regressor's
    ``alpha="auto"``): each accepted one adds the re-estimate and the objective at the new
    penalty to the count."""
    est, sizes = lm_fit("regressor", (5,), rng, alpha="auto")
    steps = est.history_[1:]
    assert steps and all("alpha" in e for e in steps)
    plain = [{k: v for k, v in e.items() if k != "alpha"} for e in est.history_]
    p = lm.n_parameters(sizes)
    accepted = sum(e["accepted"] for e in steps)

    def count(history):
        return count_flops(97, sizes, method="lm", history=history,
                           activations=["tanh", "identity"], alpha=est.alpha_)

    assert count(est.history_) - count(plain) == accepted * (lm.evidence_flops(p) + 3 * p)


def test_a_history_written_by_hand_predicts_a_fit(rng):
    est, sizes = lm_fit("sigmoid", (5,), rng)
    hand = [{"trials": est.history_[0]["trials"]}] + [
        {"trials": e["trials"], "accepted": e["accepted"]} for e in est.history_[1:]
    ]
    assert count_flops(97, sizes, method="lm", history=hand, activations=["tanh", "sigmoid"],
                       classification=True) == est.flops_
    longer = hand + [{"trials": 1, "accepted": True}]
    step = lm.step_flops(lm.n_parameters(sizes)) + lm.trial_flops(97, sizes, "sigmoid")
    step += lm.pass_flops(97, sizes, "sigmoid")
    assert count_flops(97, sizes, method="lm", history=longer, activations=["tanh", "sigmoid"],
                       classification=True) == est.flops_ + step


# -- K-FAC ------------------------------------------------------------------------------------


def kfac_fit(kind, hidden, rng, n=97, **params):
    """A fit of ``method="kfac"`` on ``n`` samples of 3 features, and what count_flops
    predicts for it (the estimator's activations, alpha, init and batch_size)."""
    X = rng.standard_normal((n, 3))
    params = dict(hidden_layer_sizes=hidden, method="kfac", random_state=0,
                  **{"max_iter": 4, **params})
    if kind in ("softmax", "sigmoid"):
        est = BPLSClassifier(output_activation=kind, **params).fit(X, np.arange(n) % 3)
    elif kind == "two targets":
        est = BPLSRegressor(**params).fit(X, np.column_stack([np.sin(X[:, 0]), X[:, 1]]))
    else:  # a regression with an identity or a tanh output
        est = BPLSRegressor(output_activation=kind, **params).fit(X, np.tanh(X[:, 0]))
    sizes = [3, *hidden, est.n_outputs_]
    predicted = count_flops(
        n, sizes, method="kfac", history=est.history_,
        activations=[est.activation] * len(hidden) + [est.output_activation],
        classification=kind in ("softmax", "sigmoid"), alpha=est.alpha, init=est.init,
        batch_size=est.batch_size, method_options=est.method_options,
    )
    assert est.method_ == "kfac" and est.flops_exact_
    return est, predicted


@pytest.mark.parametrize("kind", ["identity", "two targets", "tanh", "softmax", "sigmoid"])
@pytest.mark.parametrize("hidden", [(5,), (4, 3)])
@pytest.mark.parametrize("batch_size", [None, 40, 500])
def test_kfac_count_equals_the_ledger(rng, kind, hidden, batch_size):
    est, predicted = kfac_fit(kind, hidden, rng, batch_size=batch_size)
    assert any("retries" in e for e in est.history_)
    assert predicted == est.flops_


@pytest.mark.parametrize("params", [
    dict(alpha=0.0), dict(init="samples"), dict(activation="relu"),
    dict(max_iter=0, refit_output=True), dict(max_iter=1),
    dict(method_options={"batch_size": 20, "batches_per_step": 2, "update_every": 1}),
    dict(method_options={"gram_rows": 40, "eval_rows": 50, "output_iter": 0}),
    dict(method_options={"project_iter": 1, "output_iter": 2, "max_retries": 1}),
], ids=str)
@pytest.mark.parametrize("kind", ["identity", "softmax"])
@pytest.mark.parametrize("batch_size", [None, 30])
def test_kfac_count_of_other_settings(rng, params, kind, batch_size):
    est, predicted = kfac_fit(kind, (6,), rng, batch_size=batch_size, **params)
    assert predicted == est.flops_


def test_kfac_count_of_the_default_activations(rng):
    """Without activations, a classifier's output is a sigmoid and a regression's the
    identity, as the estimators' defaults."""
    X = rng.standard_normal((120, 4))
    clf = BPLSClassifier(hidden_layer_sizes=(7,), method="kfac", max_iter=3).fit(
        X, X[:, 0] > 0
    )
    reg = BPLSRegressor(hidden_layer_sizes=(7,), method="kfac", max_iter=3).fit(X, X[:, 1])
    assert clf.n_outputs_ == 2  # a column per class
    assert count_flops(120, [4, 7, 2], method="kfac", history=clf.history_,
                       classification=True) == clf.flops_
    assert count_flops(120, [4, 7, 1], method="kfac", history=reg.history_) == reg.flops_
    # a sigmoid output's cross-entropy costs more than a softmax's
    assert count_flops(120, [4, 7, 2], method="kfac", history=clf.history_,
                       classification=True, activations=["tanh", "softmax"]) < clf.flops_


# -- bad combinations -------------------------------------------------------------------------


def test_unknown_methods_are_refused():
    with pytest.raises(ValueError, match="'method' parameter of count_flops must be one of "
                                         "'bpls', 'lm', 'kfac'. Got 'newton'"):
        count_flops(10, [2, 3, 1], method="newton")


@pytest.mark.parametrize("history, match", [
    (None, "method='lm' needs history, the fit's history_"),
    ([], "a non-empty sequence of dicts"),
    ({"trials": 1}, "a non-empty sequence of dicts"),
    ([{}, {"trials": 2}], r"entry 1 has trials=2, accepted=None"),
    ([{}, {"trials": 0, "accepted": True}], r"entry 1 has trials=0"),
    ([{}, {"trials": lm.MAX_TRIALS + 1, "accepted": False}], r"'trials' \(an int in \[1, 12\]"),
    ([{"trials": 7}], r"entry 0 has trials=7"),
])
def test_lm_needs_a_history(history, match):
    with pytest.raises(ValueError, match=match):
        count_flops(10, [2, 3, 1], method="lm", history=history)


def test_lm_arguments_are_checked():
    history = [{"trials": 1}, {"trials": 1, "accepted": True}]
    with pytest.raises(ValueError, match="method='lm' takes n_samples as a positive int"):
        count_flops([10, 10], [2, 3, 1], method="lm", history=history)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        count_flops(10, [2, 3, 1], method="lm", history=history, batch_size=0)
    with pytest.raises(ValueError, match="history and batch_size describe a fit of method='lm'"):
        count_flops(10, [2, 3, 1], history=history)
    with pytest.raises(ValueError, match="history and batch_size describe a fit of method='lm'"):
        count_flops(10, [2, 3, 1], batch_size=5)


@pytest.mark.parametrize("history, match", [
    (None, "method='kfac' needs history, the fit's history_"),
    ({"retries": 0}, "a sequence of dicts"),
    ([{"retries": 0}, 3], "a sequence of dicts"),
    ([{"retries": -1}], r"entry 0 has retries=-1"),
    ([{"retries": 6}], r"'retries' \(an int in \[0, 5\]\)"),
    ([{"retries": True}], r"entry 0 has retries=True"),
    ([{"retries": 0}, {}, {"retries": 0}], r"entry 2 has retries=0"),
])
def test_kfac_needs_a_history(history, match):
    with pytest.raises(ValueError, match=match):
        count_flops(10, [2, 3, 1], method="kfac", history=history)


def test_kfac_arguments_are_checked():
    history = [{"retries": 0}, {}]
    with pytest.raises(ValueError, match="method='kfac' takes n_samples as a positive int"):
        count_flops(0, [2, 3, 1], method="kfac", history=history)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        count_flops(10, [2, 3, 1], method="kfac", history=history, batch_size=2.5)
    with pytest.raises(ValueError, match="a number alpha >= 0 .* got 'auto'"):
        count_flops(10, [2, 3, 1], method="kfac", history=history, alpha="auto")
    with pytest.raises(ValueError, match=r"one activation per layer \(2 for sizes"):
        count_flops(10, [2, 3, 1], method="kfac", history=history, activations=["tanh"])
    with pytest.raises(ValueError, match="'softmax' or 'sigmoid' output .* got 'identity'"):
        count_flops(10, [2, 3, 1], method="kfac", history=history, classification=True,
                    activations=["tanh", "identity"])
    with pytest.raises(ValueError, match="K-FAC trains networks with a hidden layer"):
        count_flops(10, [2, 1], method="kfac", history=history, activations=["identity"])
    with pytest.raises(ValueError, match="method_options are not settings of KFACOptions"):
        count_flops(10, [2, 3, 1], method="kfac", history=history, method_options={"lr": 1})
    with pytest.raises(ValueError, match="batches_per_step must be an integer >= 1"):
        count_flops(10, [2, 3, 1], method="kfac", history=history,
                    method_options={"batches_per_step": 0})
    with pytest.raises(ValueError, match="method_options describe a fit of method='kfac'"):
        count_flops(10, [2, 3, 1], method_options={"batch_size": 5})
