"""Instructions per call of a piece of work, counted by valgrind: the one figure a shared machine does not move.

``per_call(command, n)`` runs ``command(n)`` and ``command(0)`` (a script that warms up alike, then does the work
``n`` or 0 more times) under cachegrind and returns the difference over ``n``. PYTHONHASHSEED is fixed so both runs
lay their dicts out alike (a steadier difference).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def total(command: list[str]) -> int:
    """The instructions ``command`` executes, start to end."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cachegrind.out"
        valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}"]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run([*valgrind, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
        return int(summary.split()[1])


def per_call(command: Callable[[int], list[str]], n: int) -> float:
    return (total(command(n)) - total(command(0))) / n
