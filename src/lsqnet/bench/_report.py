"""From records to conclusions: summaries, the paper's claim, the frontier, and the files.

``results.json`` (schema :data:`SCHEMA`) holds every raw number; ``results.md`` a generated
summary in words (who won each time budget, whether the paper's claim held) above the tables;
``frontier.png`` the test accuracy against training time. Each is written atomically.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ._harness import Record

__all__ = [
    "SCHEMA",
    "accuracy_at",
    "claim",
    "frontier",
    "read_json",
    "read_results",
    "summarize",
    "to_markdown",
    "warm_start",
    "write_report",
    "write_results",
]

SCHEMA = "lsqnet-bench/1"
"""Version of the ``results.json`` layout; bumped on any incompatible change."""


def _lower_median(values: Sequence[float | None]) -> float | None:
    """Median with ``None`` sorted lowest; the lower middle value for an even count."""
    ordered = sorted(values, key=lambda v: -math.inf if v is None else v)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def _by_label(records: Iterable[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.label, []).append(r)
    return groups


def accuracy_at(record: Record, budget: float) -> float | None:
    """Test accuracy of the last trained model ``record`` had within ``budget`` seconds.

    None if no training step had finished by then (the untrained network, step 0, does not
    count).
    """
    within = [p for p in record.curve if p["time"] <= budget and p["step"] > 0]
    return within[-1]["test_accuracy"] if within else None


def time_to_reach(record: Record, accuracy: float) -> float | None:
    """Training time at which ``record`` first reached ``accuracy`` (trained models only)."""
    for p in record.curve:
        if p["step"] > 0 and p["test_accuracy"] >= accuracy:
            return p["time"]
    return None


def summarize(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Per method label: median, min and max over seeds of accuracy, time, memory, loss.

    Medians here and everywhere in the report are lower medians (for an even number of
    seeds, the lower middle value): always a value some run reached.
    """
    rows = []
    for label, group in _by_label(records).items():
        def stats(key: str, group=group) -> dict[str, float | None]:
            values = [getattr(r, key) for r in group if getattr(r, key) is not None]
            if not values:
                return {"median": None, "min": None, "max": None}
            return {
                "median": float(_lower_median(values)),
                "min": float(min(values)),
                "max": float(max(values)),
            }

        first = group[0]
        rows.append({
            "label": label,
            "method": first.method,
            "hidden": list(first.hidden),
            "seeds": [r.seed for r in group],
            "test_accuracy": stats("test_accuracy"),
            "train_time": stats("train_time"),
            "peak_memory_mib": stats("peak_memory_mib"),
            "train_loss": stats("train_loss"),
            "loss_name": first.loss_name,
            "steps": _lower_median([r.curve[-1]["step"] for r in group]),
            "status": sorted({r.status for r in group}),
            "warnings": sorted({w for r in group for w in r.warnings}),
            "params": first.params,
        })
    return rows


def claim(records: Iterable[Record], closed_form: Iterable[str]) -> list[dict[str, Any]]:
    """The paper's claim, measured for each gradient method against BPLS of the same sizes.

    Per seed: the time the gradient method first reaches BPLS's final test accuracy, divided
    by BPLS's training time (None: never reached within its epoch budget), and the gradient
    method's test accuracy at BPLS's training time (None: no epoch finished by then).
    Medians over seeds (None sorted lowest).
    """
    closed_form = set(closed_form)
    records = list(records)
    bpls = {(r.hidden, r.seed): r for r in records if r.method == "bpls"}
    rows = []
    for label, group in _by_label(records).items():
        if group[0].method in closed_form:
            continue
        per_seed = []
        for r in group:
            ref = bpls.get((r.hidden, r.seed))
            if ref is None:
                continue
            if ref.train_time <= 0:
                continue
            reach = time_to_reach(r, ref.test_accuracy)
            per_seed.append({
                "seed": r.seed,
                "bpls_accuracy": ref.test_accuracy,
                "bpls_time": ref.train_time,
                "time_to_reach": reach,
                "time_ratio": None if reach is None else reach / ref.train_time,
                "accuracy_at_bpls_time": accuracy_at(r, ref.train_time),
            })
        if not per_seed:
            continue
        rows.append({
            "label": label,
            "method": group[0].method,
            "reached": sum(s["time_ratio"] is not None for s in per_seed),
            "seeds": len(per_seed),
            "time_ratio": _lower_median([s["time_ratio"] for s in per_seed]),
            "accuracy_at_bpls_time": _lower_median(
                [s["accuracy_at_bpls_time"] for s in per_seed]
            ),
            "bpls_accuracy": _lower_median([s["bpls_accuracy"] for s in per_seed]),
            "bpls_time": _lower_median([s["bpls_time"] for s in per_seed]),
            "per_seed": per_seed,
        })
    return rows


def _first_reach(record: Record, accuracy: float, *, untrained: bool) -> dict | None:
    for p in record.curve:
        if (p["step"] > 0 or untrained) and p["test_accuracy"] >= accuracy:
            return p
    return None


def warm_start(records: Iterable[Record], hybrids: dict[str, str]) -> list[dict[str, Any]]:
    """For each warm-started method (``hybrids``: its name -> the gradient method it
    continues), how many epochs of that method the BPLS start saves.

    Per seed: the target is the gradient method's own final test accuracy (same sizes and
    seed); the epochs and training time each run needs to first reach it (the warm start's
    step 0, the BPLS network, counts as 0 epochs; its time includes BPLS). ``saved`` is the
    difference in epochs (None when the warm start never reached the target). Medians over
    seeds, None sorted lowest.
    """
    records = list(records)
    by_key = {(r.method, r.hidden, r.seed): r for r in records}
    rows = []
    for label, group in _by_label(records).items():
        method = group[0].method
        if method not in hybrids:
            continue
        per_seed = []
        for r in group:
            ref = by_key.get((hybrids[method], r.hidden, r.seed))
            if ref is None:
                continue
            alone = _first_reach(ref, ref.test_accuracy, untrained=False)
            warm = _first_reach(r, ref.test_accuracy, untrained=True)
            per_seed.append({
                "seed": r.seed,
                "target": ref.test_accuracy,
                "epochs": alone["step"], "time": alone["time"],
                "warm_epochs": None if warm is None else warm["step"],
                "warm_time": None if warm is None else warm["time"],
                "saved": None if warm is None else alone["step"] - warm["step"],
                "start_accuracy": r.curve[0]["test_accuracy"],
                "start_time": r.curve[0]["time"],
            })
        if not per_seed:
            continue
        rows.append({
            "label": label, "method": method, "gradient": hybrids[method],
            "seeds": len(per_seed),
            **{key: _lower_median([s[key] for s in per_seed]) for key in (
                "target", "epochs", "time", "warm_epochs", "warm_time", "saved",
                "start_accuracy", "start_time")},
            "per_seed": per_seed,
        })
    return rows


def frontier(
    records: Iterable[Record], closed_form: Iterable[str], budgets: Sequence[float]
) -> list[dict[str, Any]]:
    """For each time budget: the best closed-form and the best gradient method, and who wins.

    A method's accuracy at a budget is the median over seeds of the test accuracy of the last
    model it had within the budget (None if it had none). The verdict is ``"won"`` when the
    best closed-form accuracy is higher, ``"lost"`` when lower, ``"tied"`` when equal, and
    ``"-"`` when either side has no model within the budget.
    """
    closed_form = set(closed_form)
    groups = _by_label(records)
    rows = []
    for budget in budgets:
        best: dict[bool, tuple[float, str] | None] = {True: None, False: None}
        for label, group in groups.items():
            acc = _lower_median([accuracy_at(r, budget) for r in group])
            side = group[0].method in closed_form
            if acc is not None and (best[side] is None or acc > best[side][0]):
                best[side] = (acc, label)
        ours, theirs = best[True], best[False]
        if ours is None or theirs is None:
            verdict = "-"
        else:
            verdict = "won" if ours[0] > theirs[0] else "lost" if ours[0] < theirs[0] else "tied"
        rows.append({
            "budget": budget,
            "closed_form": None if ours is None else {"label": ours[1], "accuracy": ours[0]},
            "gradient": None if theirs is None else {"label": theirs[1], "accuracy": theirs[0]},
            "verdict": verdict,
        })
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(value: float) -> str:
    """A multiple of BPLS's time: two significant digits below 1 (0.043x), else 0.1 (2.5x)."""
    return f"{value:.2g}x" if value < 1 else f"{value:.1f}x"


def _labels(labels: Sequence[str]) -> str:
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _range(values: Sequence[float], fmt) -> str:
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low} to {high}"


def _frontier_words(rows: list[dict[str, Any]]) -> list[str]:
    """Which side was more accurate within each budget, one line per budget."""
    if not rows:
        return []
    won = [f"{row['budget']:g} s" for row in rows if row["verdict"] == "won"]
    lost = [f"{row['budget']:g} s" for row in rows if row["verdict"] == "lost"]
    head = (
        f"- **Time budgets.** A closed-form method was the more accurate within "
        f"{len(won)} of the {len(rows)} training-time budgets"
        + (f" ({_labels(won)})" if won else "")
        + (f", a gradient method within {len(lost)} ({_labels(lost)})" if lost
           else ", a gradient method within none")
        + " (the frontier table):"
    )
    lines = [head]
    for row in rows:
        ours, theirs = row["closed_form"], row["gradient"]
        budget = f"{row['budget']:g} s"
        if ours is None and theirs is None:
            text = "no method had finished a training step"
        elif ours is None or theirs is None:
            done = ours or theirs
            side = "closed-form" if theirs is None else "gradient"
            other = "gradient" if theirs is None else "closed-form"
            text = (f"only a {side} method had a trained model, {done['label']} at "
                    f"{_pct(done['accuracy'])} %; no {other} method had finished a step")
        else:
            first, second = (ours, theirs) if row["verdict"] != "lost" else (theirs, ours)
            verb = "tied with" if row["verdict"] == "tied" else "ahead of"
            text = (f"{first['label']} ({_pct(first['accuracy'])} %) {verb} "
                    f"{second['label']} ({_pct(second['accuracy'])} %)")
        lines.append(f"  - {budget}: {text}.")
    return lines


def _claim_words(results: dict[str, Any]) -> list[str]:
    """Whether BPLS reached its accuracy in less time than each gradient method, in words,
    with the seeds on which a method never reached it spelled out."""
    rows = results["claim"]
    claim_text = ("- **The paper's claim**, that BPLS trains a network to an accuracy "
                  "competitive with Adam, SGD, NAG and AdaGrad in a fraction of their time")
    if not rows:
        return [claim_text + ", was not measured: the run has no BPLS method or no gradient "
                "method of BPLS's sizes."]
    epochs = results["config"]["epochs"]
    final = {row["label"]: row["test_accuracy"]["median"] for row in results["summary"]}
    beaten, held, mixed = [], [], []
    for row in rows:
        # a seed supports the claim when the method was not at BPLS's accuracy by BPLS's time
        ahead = sum(s["time_ratio"] is not None and s["time_ratio"] <= 1
                    for s in row["per_seed"])
        (beaten if ahead == row["seeds"] else held if ahead == 0 else mixed).append(
            (row, ahead))
    n = len(rows)
    if not held and not mixed:
        verdict = "did not hold on this run"
    elif not beaten and not mixed:
        verdict = "held on this run"
    else:
        parts = [f"failed against {len(beaten)}"] if beaten else []
        parts += [f"held against {len(held)}"] if held else []
        parts += [f"was split over the seeds against {len(mixed)}"] if mixed else []
        verdict = f"{_labels(parts)} of the {n} gradient methods"
    lines = [claim_text + f", {verdict} (the claim table):"]
    if beaten:
        ratios = [s["time_ratio"] for row, _ in beaten for s in row["per_seed"]]
        higher = [row["label"] for row, _ in beaten
                  if (final.get(row["label"]) or 0) > row["bpls_accuracy"]]
        lines.append(
            f"  - {_labels([row['label'] for row, _ in beaten])} reached BPLS's final test "
            f"accuracy before BPLS had finished training, on every seed (after "
            f"{_range(ratios, _ratio)} BPLS's training time)"
            + (f"; {'all' if len(higher) == len(beaten) else len(higher)} of them ended more "
               f"accurate than BPLS" if higher else "") + "."
        )
    slower = [row for row, _ in held if row["reached"] == row["seeds"]]
    if slower:
        ratios = [s["time_ratio"] for row in slower for s in row["per_seed"]]
        lines.append(
            f"  - {_labels([row['label'] for row in slower])} needed longer than BPLS to reach "
            f"its final test accuracy, on every seed ({_range(ratios, _ratio)} BPLS's "
            f"training time)."
        )
    for row, ahead in held + mixed:  # the rest, one by one: "reached on k/n seeds" in words
        if row in slower:
            continue
        reached = [s for s in row["per_seed"] if s["time_ratio"] is not None]
        never = row["seeds"] - len(reached)
        text = f"  - {row['label']} reached the test accuracy of BPLS (same seed) on "
        text += (f"{len(reached)} of {row['seeds']} seeds" if never else "every seed")
        if reached:
            text += " (" + ", ".join(f"seed {s['seed']} after {_ratio(s['time_ratio'])} "
                                     f"BPLS's time" for s in reached) + ")"
        if never:
            text += (f"; on {'the other ' if reached else ''}{never} it never did within "
                     f"its {epochs} epochs")
            text += ("; hence \"never\", the median over seeds in the table"
                     if row["time_ratio"] is None else
                     f"; the table's {_ratio(row['time_ratio'])} is the lower median with "
                     f"\"never\" counted lowest")
        lines.append(text + f". The claim held against it on {row['seeds'] - ahead} of "
                     f"{row['seeds']} seeds.")
    return lines


def _summary_words(results: dict[str, Any]) -> list[str]:
    """The generated summary at the top of ``results.md``."""
    seeds = len(results["seeds"])
    return [
        "## Summary",
        "",
        f"Generated from the tables below (medians over {seeds} seed(s) of this run, on this "
        f"machine):",
        "",
        *_frontier_words(results["frontier"]),
        *_claim_words(results),
        "",
    ]


def _span(stat: dict[str, float | None], fmt) -> str:
    if stat["median"] is None:
        return "-"
    return f"{fmt(stat['median'])} [{fmt(stat['min'])}, {fmt(stat['max'])}]"


def _value_text(value: Any) -> str:
    """A number as ``:g``, a pair (a patch_size; a list once read back from JSON) as ``(a, b)``."""
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_value_text(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _grid_text(grid: list[dict[str, Any]]) -> str:
    """The candidates: their values when they vary one parameter, else ``k=v`` per candidate."""
    if all(len(p) == 1 for p in grid) and len({k for p in grid for k in p}) == 1:
        return ", ".join(_value_text(v) for p in grid for v in p.values())
    return "; ".join(" ".join(f"{k}={_value_text(v)}" for k, v in p.items()) for p in grid)


def _params_text(shown: dict[str, Any]) -> str:
    keys = ("lr", "alpha") if any(k in shown for k in ("lr", "alpha")) else ()
    if keys:
        if shown.get("init") in ("patches", "contrasts"):
            keys += ("init", "patch_size")
        return ", ".join(f"{k}={_value_text(shown[k])}" for k in keys if k in shown)
    return ", ".join(
        f"{k}={shown[k]}" for k in ("alpha", "max_iter", "hidden_target", "iteration_rule")
        if k in shown
    )


def to_markdown(results: dict[str, Any]) -> str:
    """The tables of ``results.md``: methods, the paper's claim, the frontier, the tuning."""
    cfg, mach = results["config"], results["machine"]
    lines = [
        f"# lsqnet bench: {results['dataset']}",
        "",
        *_summary_words(results),
        f"Command: `{results['command']}`  ",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, {results['config']['threads']} "
        f"thread(s); Python {mach['python']}, NumPy {mach['numpy']}, SciPy {mach['scipy']}, "
        f"torch {mach.get('torch')}, lsqnet {mach['lsqnet']}; BLAS "
        + ", ".join(f"{b['internal_api']} {b['version']}" for b in mach["blas"]) + ".  ",
        f"Data: {results['n_train']} training and {results['n_test']} test samples, "
        f"{results['n_features']} features; activation {cfg['activation']}, "
        f"{cfg['epochs']} epochs of batch {cfg['batch_size']} ({cfg['loss']} loss, "
        f"{cfg['evals_per_epoch']} evaluation(s) per epoch, learning rates tuned over "
        f"{cfg['tune_epochs'] or cfg['epochs']} epochs) for gradient methods, at most "
        f"{cfg['max_iter']} BPLS sweeps; seeds {results['seeds']}.",
        "",
        "Test accuracy (%) and training time (s): median [min, max] over seeds. Training time "
        "excludes data loading and evaluation; memory is the peak resident memory above the "
        "level before the run.",
        "",
        "| method | test accuracy % | train time s | peak memory MiB | train loss | steps "
        "| settings |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["summary"]:
        status = "" if row["status"] == ["ok"] else f" ({', '.join(row['status'])})"
        if row["warnings"]:
            status += f" ({len(row['warnings'])} kind(s) of warning, see results.json)"
        lines.append(
            f"| {row['label']}{status} | {_span(row['test_accuracy'], _pct)} "
            f"| {_span(row['train_time'], _secs)} "
            f"| {_span(row['peak_memory_mib'], lambda v: f'{v:.0f}')} "
            f"| {_span(row['train_loss'], lambda v: f'{v:.4g}')} ({row['loss_name']}) "
            f"| {row['steps']:g} | {_params_text(row['params'])} |"
        )
    if results["claim"]:
        lines += [
            "",
            "The paper's claim: the time each gradient method needs to first reach BPLS's test "
            "accuracy, as a multiple of BPLS's training time, and its accuracy at BPLS's time "
            "(medians over seeds). \"Reached in\" counts the seeds on which it reached that "
            "accuracy within its epochs; \"never\" is the median when it did not on at least "
            "half of them (the lower median, never counted lowest).",
            "",
            "| method | BPLS accuracy % | BPLS time s | reached in | time to reach / BPLS time "
            "| accuracy at BPLS time % |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in results["claim"]:
            ratio = "never" if row["time_ratio"] is None else _ratio(row["time_ratio"])
            lines.append(
                f"| {row['label']} | {_pct(row['bpls_accuracy'])} | {_secs(row['bpls_time'])} "
                f"| {row['reached']}/{row['seeds']} seeds | {ratio} "
                f"| {_pct(row['accuracy_at_bpls_time'])} |"
            )
    lines += [
        "",
        "The frontier: the best test accuracy (%) reached within each training-time budget.",
        "",
        "| budget s | best closed-form | best gradient | closed form |",
        "| --- | --- | --- | --- |",
    ]
    for row in results["frontier"]:
        cells = [
            "-" if side is None else f"{_pct(side['accuracy'])} ({side['label']})"
            for side in (row["closed_form"], row["gradient"])
        ]
        lines.append(f"| {row['budget']:g} | {cells[0]} | {cells[1]} | {row['verdict']} |")
    if results.get("warm_start"):
        lines += [
            "",
            "Warm starts: the epochs and time a gradient method needs to reach its own final "
            "test accuracy, from its usual initialisation and from BPLS's network (whose "
            "accuracy and time are the start; medians over seeds; \"never\": the warm start "
            "did not reach the target within its epochs on at least half of the seeds).",
            "",
            "| method | target % | alone: epochs | alone: time s | BPLS start % | BPLS time s "
            "| warm: epochs | warm: time s | epochs saved |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in results["warm_start"]:
            def num(v):
                return "never" if v is None else f"{v:g}"

            lines.append(
                f"| {row['label']} | {_pct(row['target'])} | {num(row['epochs'])} "
                f"| {_secs(row['time'])} | {_pct(row['start_accuracy'])} "
                f"| {_secs(row['start_time'])} | {num(row['warm_epochs'])} "
                f"| {_secs(row['warm_time'])} | {num(row['saved'])} |"
            )
    lines += [
        "",
        "Hyper-parameters chosen on a validation split of the training data "
        f"({100 * cfg['val_fraction']:g} %, stratified, seed 0); the test set is never used.",
        "",
        "| method | grid | validation accuracy % | chosen |",
        "| --- | --- | --- | --- |",
    ]
    for label, tuning in results["tuning"].items():
        if not tuning["scores"]:
            continue
        grid = _grid_text(tuning["grid"])
        scores = ", ".join(_pct(s) for s in tuning["scores"])
        chosen = ", ".join(f"{k}={_value_text(v)}" for k, v in tuning["chosen"].items())
        if len(tuning["chosen"]) == 1 and tuning["chosen"] in (
            tuning["grid"][0], tuning["grid"][-1]
        ):
            chosen += " (edge of the grid)"
        lines.append(f"| {label} | {grid} | {scores} | {chosen} |")
    return "\n".join(lines) + "\n"


def write_results(
    results: dict[str, Any], out: str | os.PathLike, *, plot: bool = True
) -> list[Path]:
    """Write ``frontier.png`` (if ``plot``), ``results.md`` and ``results.json`` into ``out``
    (:func:`write_report`). Returns the paths written."""

    def draw(ax: Any) -> None:
        from ..plotting import plot_frontier

        plot_frontier(results, ax=ax)

    return write_report(out, results, to_markdown(results), "frontier.png",
                        draw if plot else None, figsize=(9.5, 4.8), dpi=120)


def write_report(
    out: str | os.PathLike, results: dict[str, Any], markdown: str, image: str,
    draw: Callable[[Any], None] | None, *, figsize: tuple[float, float], dpi: int,
) -> list[Path]:
    """Write ``image`` (a PNG that ``draw(ax)`` plots; none if ``draw`` is None),
    ``results.md`` and ``results.json`` into ``out``.

    Every file is written to a temporary name in ``out`` and renamed into place, so an
    interrupted run never leaves a half-written file. Everything is rendered before the
    first rename, so a failure (say, in plotting) leaves all earlier files as they were.
    Returns the paths written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    if draw is not None:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

        fig = Figure(figsize=figsize, layout="constrained")
        draw(fig.subplots())
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        files[out / image] = buffer.getvalue()
    files[out / "results.md"] = markdown.encode()
    files[out / "results.json"] = (json.dumps(results, indent=1) + "\n").encode()
    for path, payload in files.items():
        with atomic_write(path) as f:
            f.write(payload)
    return list(files)


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``results.json`` (or the folder holding it), checking its schema version."""
    return read_json(path, SCHEMA)


def read_json(path: str | os.PathLike, schema: str) -> dict[str, Any]:
    """The ``results.json`` at ``path`` (or in the folder ``path``), whose ``"schema"`` must
    be ``schema``; ``ValueError`` naming the file otherwise."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a results.json file ({err}).") from None
    if not isinstance(results, dict) or results.get("schema") != schema:
        found = results.get("schema") if isinstance(results, dict) else None
        raise ValueError(f"{path}: schema {found!r}; this lsqnet reads {schema!r}.")
    return results
