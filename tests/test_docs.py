"""The README and the user guide run as written, and their generated parts are up to date.

Each file's ```python blocks are executed in order in one namespace, in a temporary working
directory (files a block saves land there). A file whose blocks import an optional library
(torch, dask) is skipped where that library is missing; one that reads MNIST or
Fashion-MNIST is skipped where ``LSQNET_DATA`` lacks them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)
OPTIONAL = ("torch", "dask")
IMAGE_SETS = ("mnist", "fashion-mnist")


def python_blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def test_blocks_are_found():
    # guards the extraction itself: a changed fence syntax would silently test nothing
    assert len(python_blocks(ROOT / "README.md")) == 2
    assert len(python_blocks(ROOT / "docs" / "guide" / "scaling.md")) >= 4
    assert python_blocks(ROOT / "docs" / "guide" / "index.md") == []


# the paper's scheme (no ridge) falls back to a safer solver in bpls.md, as its text says
@pytest.mark.filterwarnings("ignore::lsqnet.exceptions.SolverFallbackWarning")
@pytest.mark.parametrize(
    "path", [p for p in DOCUMENTS if python_blocks(p)], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_code_blocks_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    source = "\n".join(blocks)
    for name in OPTIONAL:
        if re.search(rf"^\s*(import|from) {name}\b", source, re.M):
            pytest.importorskip(name)
    if any(f'"{name}"' in source for name in IMAGE_SETS):
        data = os.environ.get("LSQNET_DATA")
        if not data or not all((Path(data) / n).is_dir() for n in IMAGE_SETS if n in source):
            pytest.skip("needs MNIST / Fashion-MNIST under LSQNET_DATA")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        code = compile(block, f"{path.name}, block {i + 1}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples


def test_generated_benchmark_text_is_current():
    """The README's headline and docs/benchmarks/ are what update_readme.py writes from the
    committed results: no number in them is typed by hand."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "update_readme.py"), "--check"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", [
    ROOT / "README.md", ROOT / "benchmarks" / "FINDINGS.md",
    *sorted((ROOT / "docs").rglob("*.md")),
], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_development_history(path):
    """Findings and docs are named by what they are, not by issue, session or commit."""
    text = path.read_text(encoding="utf-8")
    history = re.findall(r"\b(?:issue|session|goal)s? \d+", text, re.I)
    commits = re.findall(r"\bcommit [0-9a-f]{7,40}\b", text, re.I)
    assert not history and not commits, history + commits


def test_readme_is_short():
    # the README is for a newcomer; everything else lives in docs/
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None, reason="needs lsqnet[docs]")
def test_conf_lists_every_public_module(tmp_path):
    """docs/conf.py's API pages cover lsqnet.__all__ and every public submodule."""
    import lsqnet

    spec = importlib.util.spec_from_file_location("docs_conf", ROOT / "docs" / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)  # writes docs/api/ (ignored by git), as a build does
    index = (ROOT / "docs" / "api" / "index.rst").read_text()
    for name in lsqnet.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(lsqnet, name)
        if isinstance(obj, type(lsqnet)):
            assert f"   {obj.__name__}\n" in index, name
        else:
            assert f"   {name}\n" in index, name
