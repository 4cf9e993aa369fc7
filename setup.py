"""The build: the modules a warm personalized request runs through, compiled with mypyc.

Everything else about the package is in pyproject.toml. ``TARGET_MIDDLEWARE_PURE=1`` at install time builds pure
Python (the same behaviour, slower: README, "Compiled"); a machine without a C compiler gets pure Python too, the
compiled modules being optional extensions.
"""

from __future__ import annotations

import os

from setuptools import setup

# The hot path (README, "Compiled"): each module here must compile with mypyc and pass the whole suite both
# compiled and pure (.ci/run runs both).
COMPILED = [
    "target_middleware/pagebytes.py",
    "target_middleware/pageheaders.py",
    "target_middleware/personalize.py",
    "target_middleware/plankey.py",
    "target_middleware/tracking.py",
]


def ext_modules() -> list[object]:
    if os.environ.get("TARGET_MIDDLEWARE_PURE", "0") not in ("", "0"):
        return []
    from mypyc.build import mypycify

    extensions = mypycify(COMPILED, opt_level="3", group_name="target_middleware")
    for extension in extensions:
        extension.optional = True  # no compiler: pure Python, with a warning from setuptools
    return extensions


setup(ext_modules=ext_modules())
