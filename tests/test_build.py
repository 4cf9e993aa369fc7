"""The build is whole: the modules setup.py compiles run compiled, or (pure Python) none does.

``TARGET_MIDDLEWARE_BUILD=compiled`` or ``=pure`` (set by .ci/run for each of its two runs) says which is expected,
so that a build that fell back to pure Python (no compiler: the extensions are optional) cannot pass as compiled.
"""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import target_middleware
from target_middleware.build import compiled_modules

ROOT = Path(__file__).resolve().parent.parent


def setup_compiled() -> list[str]:
    """setup.py's COMPILED, as module names."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    [paths] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets)
    ]
    assert isinstance(paths, ast.List)
    return sorted(p.value.removesuffix(".py").replace("/", ".") for p in paths.elts if isinstance(p, ast.Constant))


def test_the_build_is_whole_and_of_the_kind_expected() -> None:
    names = setup_compiled()
    assert names, "setup.py compiles nothing"
    for name in names:
        importlib.import_module(name)
    running = [name for name in compiled_modules() if name in names]
    expected = os.environ.get("TARGET_MIDDLEWARE_BUILD")
    if expected == "compiled":
        assert running == names
    elif expected == "pure":
        assert running == []
    else:
        assert running in (names, []), f"a partial build: only {running} of {names} compiled"
    assert set(compiled_modules()) <= set(names), "a module compiled that setup.py does not name"


def test_no_compiled_module_is_older_than_its_source() -> None:
    """In a checkout built in place (pip install -e .), a .so shadows its .py: an edit after the build would not run.
    (conftest.py stops the session at once when it finds one; this names the check.)"""
    package = Path(target_middleware.__file__).parent
    for name in compiled_modules():
        source = package.joinpath(*name.split(".")[1:]).with_suffix(".py")
        module = importlib.import_module(name)
        built = Path(str(module.__file__))
        if source.exists():
            assert built.stat().st_mtime >= source.stat().st_mtime, f"{name} changed after it was compiled"
