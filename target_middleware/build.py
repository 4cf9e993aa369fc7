"""Which of the package's modules run compiled in this process.

The hot path's modules are compiled with mypyc when the package is built (setup.py: ``COMPILED``; README,
"Compiled"); ``TARGET_MIDDLEWARE_PURE=1`` at install time, or a machine without a C compiler, gives pure Python, the
same behaviour, slower. The demo's ``/_target`` page shows which it is.
"""

from __future__ import annotations

import sys
from importlib.machinery import EXTENSION_SUFFIXES

__all__ = ["compiled_modules"]


def compiled_modules() -> tuple[str, ...]:
    """The names of this package's loaded modules that are compiled extension modules, sorted."""
    suffixes = tuple(EXTENSION_SUFFIXES)
    return tuple(
        sorted(
            name
            for name, module in list(sys.modules.items())
            if name.startswith("target_middleware.") and str(getattr(module, "__file__", "")).endswith(suffixes)
        )
    )
