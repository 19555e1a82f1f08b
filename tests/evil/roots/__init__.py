"""Hostile runs roots: what a colleague with write access, or a messy filesystem, can leave under a root.

Each case is a function that plants one attack as one run directory of a shared root, with the outcome rankinv
must show for it (``EXPECT``). ``tests/test_evil_roots.py`` builds them all into one root — so each attack also
has to leave the other runs alone — and checks the outcome through the real CLI, the daemon and the TUI.
"""

from __future__ import annotations

from tests.evil.roots import files, memory, names, values

CASES = {**files.CASES, **memory.CASES, **names.CASES, **values.CASES}
"""Run-directory name (bytes: some are not UTF-8) → (builder, expected outcome)."""
