# Control: an honest program using the standard library broadly (imports, pathlib and files in its directory,
# threads, namedtuple and dataclasses, which read frames); nothing here may be refused.
import asyncio
import collections
import dataclasses
import functools
import heapq
import itertools
import json
import math
import pathlib
import re
import subprocess
import tempfile
import threading
import typing


@dataclasses.dataclass
class Point:
    x: int
    y: int


Pair = collections.namedtuple("Pair", "a b")
pathlib.Path("data").mkdir()
pathlib.Path("data/out.json").write_text(json.dumps({"p": dataclasses.asdict(Point(1, 2))}))
assert json.loads(pathlib.Path("data/out.json").read_text())["p"] == {"x": 1, "y": 2}
with tempfile.NamedTemporaryFile("w", delete=False) as f:
    f.write("ok")
results = []
worker = threading.Thread(target=lambda: results.append(sum(heapq.nsmallest(3, [5, 1, 4, 2]))))
worker.start()
worker.join()
assert results == [7] and Pair(1, 2).b == 2 and math.isclose(math.pi, 3.14159, rel_tol=1e-5)
assert list(itertools.accumulate([1, 2, 3])) == [1, 3, 6] and functools.reduce(int.__add__, [1, 2]) == 3
assert re.fullmatch(r"a+", "aaa") and typing.get_type_hints(Point) == {"x": int, "y": int}
assert asyncio.run(asyncio.sleep(0, result=5)) == 5 and subprocess.DEVNULL == -3
