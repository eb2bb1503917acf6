"""Plots of benchmark results. matplotlib is imported only when a plot is drawn.

Functions take ``ax=None`` (a new figure's axes) and return the axes they drew on.
"""

from __future__ import annotations

from typing import Any

__all__ = ["plot_frontier"]


def plot_frontier(results: dict[str, Any], ax: Any = None) -> Any:
    """Test accuracy against training time (log axis) of every method in ``results``.

    ``results`` is the payload of :func:`lsqnet.bench.benchmark` (or a read ``results.json``).
    One curve per method: the run of its median seed (by final test accuracy), a marker at
    every recorded point (each epoch or BPLS sweep); closed-form methods are drawn solid,
    gradient methods dashed, each in its own colour. The untrained networks (step 0) are left
    out. The accuracy axis starts 5 points below the lowest final accuracy: intermediate
    points below it (oscillating iterates) are cut, and their number is given.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 4.8), layout="constrained")
    closed_form = set(results.get("closed_form", ()))
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in results["records"]:
        groups.setdefault(record["label"], []).append(record)
    markers = "osD^vP*Xhp<>"
    colours = plt.get_cmap("tab20").colors
    finals, values = [], []
    for i, (label, group) in enumerate(groups.items()):
        group = sorted(group, key=lambda r: r["test_accuracy"])
        record = group[(len(group) - 1) // 2]
        points = [p for p in record["curve"] if p["step"] > 0 and p["time"] > 0]
        solid = record["method"] in closed_form
        finals.append(100 * record["test_accuracy"])
        values += [100 * p["test_accuracy"] for p in points]
        ax.plot(
            [p["time"] for p in points], [100 * p["test_accuracy"] for p in points],
            color=colours[(2 * i) % 20 + (2 * i) // 20 % 2],
            linestyle="-" if solid else "--", marker=markers[i % len(markers)],
            markersize=5 if solid else 3.5, linewidth=1.8 if solid else 1.2,
            label=f"{label} ({100 * record['test_accuracy']:.1f} %)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("training wall time (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    mach = results.get("machine", {})
    ax.set_title(
        f"{results.get('dataset', '')}: accuracy vs training time "
        f"({mach.get('cores', '?')} cores, {results.get('config', {}).get('threads', '?')} "
        f"thread(s))",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    if finals:
        bottom = max(0.0, min(finals) - 5.0)
        top = min(100.0, max(values) + 1.0)
        ax.set_ylim(bottom, top)
        cut = sum(v < bottom for v in values)
        if cut:
            ax.text(0.01, 0.01, f"{cut} point(s) below {bottom:.0f} % not shown",
                    transform=ax.transAxes, fontsize=7, alpha=0.7)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax
