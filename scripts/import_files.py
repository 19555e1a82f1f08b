"""Name the file and line of each import in import-linter's report (read on stdin, echoed to stdout).

``rankinv.stats -> rankinv.bridge (l.13)`` gains ``rankinv/stats.py:13``: the source folders are not the module
names (``rankinv.daemon`` is ``daemon/``, ``rankinv.tui`` is ``tui/``), so say where to look.
Usage: ``lint-imports | python scripts/import_files.py REPO``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

FOLDERS = (("rankinv.daemon", "daemon"), ("rankinv.tui", "tui"), ("rankinv", "rankinv"))
LINK = re.compile(r"(?P<importer>[A-Za-z_][\w.]*) -> [\w.]+ \(l\.(?P<line>\d+)")


def file_of(module: str, repo: Path) -> str | None:
    for prefix, folder in FOLDERS:
        if module == prefix or module.startswith(f"{prefix}."):
            base = Path(folder, *module[len(prefix) :].split(".")[1:])
            for path in (base.with_name(f"{base.name}.py"), base / "__init__.py"):
                if (repo / path).is_file():
                    return str(path)
    return None


def main(repo: Path) -> None:
    for line in sys.stdin:
        text = line.rstrip("\n")
        link = LINK.search(text)
        path = file_of(link["importer"], repo) if link else None
        print(f"{text}  {path}:{link['line']}" if link and path else text, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
