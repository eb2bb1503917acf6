"""Write the benchmark results into README.md and docs/ (never typed by hand).

From ``benchmarks/results/bench/NAME/results.json`` (written by ``lsqnet bench``):

- the README block between ``<!-- bench:headline -->`` and ``<!-- /bench:headline -->``
  gets the headline: the accuracy-against-time frontier of every dataset side by side, what
  BPLS training of the hidden layer and Adam reach on the paper's network, and the first
  dataset's ``frontier.png``;
- ``docs/benchmarks/NAME.md`` gets the full tables (the ``results.md`` of that folder) and its
  plot, and ``docs/benchmarks/index.md`` the list of those pages;
- ``docs/benchmarks/tabular.md`` gets the tabular suite's tables and plot from
  ``benchmarks/results/tabular/results.json`` (``lsqnet bench --suite tabular``), and the
  README block between ``<!-- tabular:headline -->`` and ``<!-- /tabular:headline -->`` its
  conclusion and, per data set, the default estimator against the better baseline.

Run after ``benchmarks/run_bench.sh`` (which calls it). ``--check`` writes nothing and exits
with status 1 when a file is not what the results give (the test suite runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lsqnet.bench import read_results, to_markdown

ROOT = Path(__file__).resolve().parent.parent
#: The datasets of the benchmark, in the order shown, with their display names.
DATASETS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
#: The rows compared in the headline's last sentence: BPLS and Adam on the paper's network.
BPLS_ROW, GRADIENT_ROW = "bpls 256", "adam 256"
#: The row of the same network with every layer trained by a short Kronecker-factored fit.
TRAINED_ROW = "kfac-fast 256"


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _row(results: dict, label: str) -> dict:
    for row in results["summary"]:
        if row["label"] == label:
            return row
    raise ValueError(f"{results['dataset']}: no {label!r} row in results.json")


def _cell(side: dict | None) -> str:
    return "-" if side is None else f"{100 * side['accuracy']:.2f} ({side['label']})"


def headline(all_results: dict[str, dict], image: str) -> str:
    """The README's benchmark block: one table, one sentence, one plot."""
    names = list(all_results)
    first = all_results[names[0]]
    mach = first["machine"]
    budgets = [row["budget"] for row in first["frontier"]]
    head = "| budget |" + "".join(
        f" {DATASETS.get(n, n)}: closed form | {DATASETS.get(n, n)}: gradient |" for n in names
    )
    lines = [
        f"Best test accuracy (%) reached within each training-time budget, median of "
        f"{len(first['seeds'])} seeds ({mach['cpu']}, {mach['cores']} cores, "
        f"`bash benchmarks/run_bench.sh`):",
        "",
        head,
        "| --- |" + " --- | --- |" * len(names),
    ]
    for i, budget in enumerate(budgets):
        cells = []
        for name in names:
            row = all_results[name]["frontier"][i]
            if row["budget"] != budget:
                raise ValueError(f"{name}: budgets differ from {names[0]}'s")
            cells += [_cell(row["closed_form"]), _cell(row["gradient"])]
        lines.append(f"| {budget:g} s | " + " | ".join(cells) + " |")
    sentences = []
    for name in names:
        ours, theirs = _row(all_results[name], BPLS_ROW), _row(all_results[name], GRADIENT_ROW)
        sentences.append(
            f"{DATASETS.get(name, name)} {_pct(ours['test_accuracy']['median'])} in "
            f"{ours['train_time']['median']:.1f} s against "
            f"{_pct(theirs['test_accuracy']['median'])} in "
            f"{theirs['train_time']['median']:.1f} s"
        )
    winners = {row["closed_form"]["label"] for results in all_results.values()
               for row in results["frontier"] if row["closed_form"] is not None}
    kinds = ("one wide layer of fixed local receptive fields with a least-squares output (the "
             "presets and `bpls-patches`)")
    trained = sorted({label.split()[0] for label in winners if label.startswith("kfac")})
    if trained:
        kinds += (", or a network whose every layer is trained by Kronecker-factored "
                  "least-squares steps (" + " and ".join(f"`{m}`" for m in trained) + ")")
    lines += [
        "",
        f"The closed-form entries are {kinds}. Training the hidden layer by BPLS sweeps does "
        f"not beat gradient descent: on the paper's 784-256-10 network, `{BPLS_ROW}` against "
        f"`{GRADIENT_ROW}` ({first['config']['epochs']} epochs): "
        + "; ".join(sentences) + "." + _trained_sentence(all_results),
        "",
        f"![{DATASETS.get(names[0], names[0])}: test accuracy against training time]({image})",
    ]
    return "\n".join(lines) + "\n"


def _trained_sentence(all_results: dict[str, dict]) -> str:
    """The same network with every layer trained by least squares (``kfac-fast``) against
    Adam, where the results have it."""
    parts = []
    for name, results in all_results.items():
        if not any(row["label"] == TRAINED_ROW for row in results["summary"]):
            return ""
        ours, theirs = _row(results, TRAINED_ROW), _row(results, GRADIENT_ROW)
        gap = 100 * (ours["test_accuracy"]["median"] - theirs["test_accuracy"]["median"])
        ratio = ours["train_time"]["median"] / theirs["train_time"]["median"]
        parts.append(
            f"{DATASETS.get(name, name)} {_pct(ours['test_accuracy']['median'])} in "
            f"{ours['train_time']['median']:.2f} s, {ratio:.3f} of Adam's time and "
            f"{abs(gap):.2f} point {'below' if gap < 0 else 'above'} its accuracy"
        )
    return (
        f" Training every layer by Kronecker-factored least-squares steps does: "
        f"`{TRAINED_ROW}` (ReLU units, one step over a third of the training rows) reaches "
        + "; ".join(parts) + "."
    )


def tabular_headline(results: dict) -> str:
    """The README's tabular block: the suite's conclusion in words and its per-set rows."""
    from lsqnet.bench.tabular import conclusion

    mach = results["machine"]
    summary = conclusion(results["records"])
    scores = {(r["dataset"], r["model"]): r for r in results["summary"]}
    lines = [
        f"Test accuracy (%) or R², medians of {len(results['seeds'])} seeds, fit time relative "
        f"to `MLPClassifier`/`MLPRegressor(hidden_layer_sizes=(256,))` ({mach['cpu']}, "
        f"{mach['cores']} cores, one thread per fit, `lsqnet bench --suite tabular`):",
        "",
        "| data set | `LSQ*()` | better of MLP(256), Nyström + ridge | difference | "
        "gradient boosting | time / MLP's |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary["per_set"]:
        percent = row["metric"] == "accuracy"

        def fmt(value, percent=percent):
            return "-" if value is None else (f"{100 * value:.2f}" if percent else f"{value:.4f}")

        diff = row["difference"]
        hgb = scores.get((row["dataset"], "hgb"), {}).get("score")
        lines.append(
            f"| {row['dataset']} | {fmt(row['score'])} | {fmt(row['baseline_score'])} "
            f"({row['baseline']}) | {f'{100 * diff:+.2f}' if percent else f'{diff:+.4f}'} | "
            f"{fmt(hgb)} | {row['time_ratio']:.2f} |"
        )
    return "\n".join([summary["text"], "", *lines, ""]) + "\n"


def _replace_block(text: str, name: str, block: str, path: Path) -> str:
    start, end = f"<!-- {name} -->\n", f"<!-- /{name} -->"
    if start not in text or end not in text:
        raise ValueError(f"{path}: no {start.strip()} ... {end} block")
    before, rest = text.split(start, 1)
    return before + start + block + end + rest.split(end, 1)[1]


def docs_page(name: str, results: dict, image: str) -> str:
    """A docs page: the full ``results.md`` under the dataset's title, and the plot."""
    body = to_markdown(results).split("\n", 2)[2]  # drop the "# lsqnet bench: ..." title
    return (
        f"# {DATASETS.get(name, name)}\n\n"
        f"<!-- Written by benchmarks/update_readme.py from "
        f"benchmarks/results/bench/{name}/results.json: do not edit. -->\n\n"
        f"![{DATASETS.get(name, name)}: test accuracy against training time]({image})\n\n"
        f"{body}"
    )


def docs_index(names: list[str]) -> str:
    return (
        "# Benchmark results\n\n"
        "<!-- Written by benchmarks/update_readme.py: do not edit. -->\n\n"
        "`lsqnet bench` trains networks of the same sizes (784-256-10 and 784-1024-10, tanh)\n"
        "with BPLS (lsqnet's defaults and the paper's literal scheme), an extreme learning\n"
        "machine (random hidden layer, ridge output), ridge regression on the pixels,\n"
        "`torch.optim`'s Adam, SGD, NAG and AdaGrad (mini-batches of 128, cross-entropy),\n"
        "lsqnet's presets, `bpls-patches` (the output layer solved on local receptive fields)\n"
        "and `bpls+adam` (Adam started from BPLS's network), in one process on one machine.\n"
        "Learning rates, ridge penalties and feature maps are chosen on a validation split of\n"
        "the training data; the test set is only used to report. Test accuracy is recorded\n"
        "against training wall time (data loading and evaluation excluded). `bash\n"
        "benchmarks/run_bench.sh` reruns every dataset and rewrites these pages; the raw\n"
        "numbers are in `benchmarks/results/bench/*/results.json`. What they mean, and the\n"
        "studies behind the presets, are in [the findings](../findings.md).\n\n"
        + ("`lsqnet bench --suite tabular` compares lsqnet's estimators with scikit-learn's\n"
           "MLP, random features with ridge, linear models and gradient boosting on small\n"
           "tables ([Tabular data sets](tabular.md)).\n\n" if "tabular" in names else "")
        + "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(names) + "\n```\n"
    )


def render(root: Path, results_dir: Path) -> dict[Path, str]:
    """Every file this script writes, with its new text."""
    names = [n for n in DATASETS if (results_dir / n / "results.json").exists()]
    if not names:
        raise FileNotFoundError(f"no results.json under {results_dir}")
    all_results = {n: read_results(results_dir / n) for n in names}
    readme = root / "README.md"
    image = (results_dir / names[0] / "frontier.png").relative_to(root).as_posix()
    text = _replace_block(readme.read_text(), "bench:headline", headline(all_results, image),
                          readme)
    files = {readme: text}
    docs = root / "docs" / "benchmarks"
    for name, results in all_results.items():
        plot = Path("../..") / (results_dir / name / "frontier.png").relative_to(root)
        files[docs / f"{name}.md"] = docs_page(name, results, plot.as_posix())
    tabular = results_dir.parent / "tabular"
    if (tabular / "results.json").exists():
        from lsqnet.bench.tabular import docs_page as tabular_page
        from lsqnet.bench.tabular import read_results as read_tabular

        plot = Path("../..") / (tabular / "scores.png").relative_to(root)
        source = (tabular / "results.json").relative_to(root).as_posix()
        tabular_results = read_tabular(tabular)
        files[docs / "tabular.md"] = tabular_page(tabular_results, plot.as_posix(), source)
        files[readme] = _replace_block(files[readme], "tabular:headline",
                                       tabular_headline(tabular_results), readme)
        names = [*names, "tabular"]
    files[docs / "index.md"] = docs_index(names)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (README.md, docs/)")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder of per-dataset results "
                        "(default: ROOT/benchmarks/results/bench)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a file differs from what the results give")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    results_dir = (args.results or root / "benchmarks/results/bench").resolve()
    stale = []
    for path, text in render(root, results_dir).items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(root)}")
    if args.check and stale:
        print("out of date (run python benchmarks/update_readme.py): "
              + ", ".join(str(p.relative_to(root)) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
