"""Copy the tables of ``lsqnet bench`` results into README.md (never typed by hand).

Each block between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in the README is
replaced by the ``results.md`` of ``benchmarks/results/bench/NAME/`` (its title dropped) and a
link to its ``frontier.png``. Run after ``benchmarks/run_bench.sh`` (which calls it).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from lsqnet.bench import read_results, to_markdown

ROOT = Path(__file__).resolve().parent.parent


def block(name: str, folder: Path) -> str:
    results = read_results(folder)
    body = to_markdown(results).split("\n", 2)[2]  # drop the "# lsqnet bench: ..." title
    image = (folder / "frontier.png").relative_to(ROOT).as_posix()
    return f"{body}\n![{name}: test accuracy against training time]({image})\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/bench")
    args = parser.parse_args()
    text = args.readme.read_text()
    for name in re.findall(r"<!-- bench:([\w-]+) -->", text):
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        new = block(name, args.results / name)
        text = pattern.sub(lambda m, new=new: m.group(1) + new + m.group(2), text)
        print(f"README: bench:{name} from {args.results / name}")
    args.readme.write_text(text)


if __name__ == "__main__":
    main()
