"""Sphinx configuration of lsqnet's documentation.

Build: ``sphinx-build -W --keep-going -b html docs <out>`` (needs ``pip install ".[docs]"``).

The API reference follows the code: ``api/`` is written here, at every build, from
``lsqnet.__all__`` and the public submodules of :mod:`lsqnet` (autodoc and autosummary then
read the docstrings), so a new public name or module appears without editing these pages.
The benchmark pages (``benchmarks/*.md``) are written from the committed result files by
``benchmarks/update_readme.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import lsqnet

HERE = Path(__file__).resolve().parent

project = "lsqnet"
author = "the lsqnet developers"
copyright = "the lsqnet developers"  # noqa: A001 - Sphinx's name
release = lsqnet.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
templates_path = ["_templates"]
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "alabaster"
html_title = f"lsqnet {release}"



def _public_submodules() -> list[str]:
    """The public submodules of lsqnet (no leading underscore), imported to check they load."""
    names = []
    for info in pkgutil.iter_modules(lsqnet.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"lsqnet.{info.name}")
            names.append(f"lsqnet.{info.name}")
    return sorted(names)


def _write_api_pages() -> None:
    """``api/index.rst``: the top-level names, grouped by the module that defines them,
    and one page per public submodule with its own members (those re-exported at the top
    level are documented there, once)."""
    top = [n for n in lsqnet.__all__ if not n.startswith("__")]
    top_objects = {n: getattr(lsqnet, n) for n in top}
    groups: dict[str, list[str]] = {}
    for name, obj in top_objects.items():
        if inspect.ismodule(obj):
            continue
        module = getattr(obj, "__module__", None) if callable(obj) else None
        parts = (module or "lsqnet").split(".")
        public = [p for i, p in enumerate(parts) if not any(q.startswith("_") for q in parts[: i + 1])]
        groups.setdefault(".".join(public), []).append(name)
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    lines = [
        "API reference",
        "=============",
        "",
        ".. automodule:: lsqnet",
        "",
        "Everything below is importable from the top-level package (``import lsqnet``),",
        "grouped by the module that defines it.",
        "",
    ]
    for module in sorted(groups):
        names = groups[module]
        lines += [module, "-" * len(module), "", ".. currentmodule:: lsqnet", "",
                  ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {n}" for n in names] + [""]
    submodules = _public_submodules()
    lines += ["Modules", "-------", "", ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {m}" for m in submodules] + [""]
    _write(api / "index.rst", "\n".join(lines))
    for module_name in submodules:
        module = importlib.import_module(module_name)
        shown = [
            n for n in getattr(module, "__all__", [])
            if not any(getattr(module, n) is o for o in top_objects.values())
        ]
        page = [module_name, "=" * len(module_name), "", f".. automodule:: {module_name}"]
        if shown:
            page += ["   :members: " + ", ".join(shown)]
        else:
            page += ["", "Its public names are documented in :doc:`index`."]
        _write(api / f"{module_name}.rst", "\n".join(page) + "\n")


def _write(path: Path, text: str) -> None:
    # rewrite only on change, so that Sphinx's incremental builds stay incremental
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_pages()


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out what the estimators inherit from scikit-learn (metadata routing and such):
    documented there, and written for scikit-learn's own docs (its glossary, its labels)."""
    if getattr(obj, "__module__", None) and obj.__module__.split(".")[0] == "sklearn":
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
