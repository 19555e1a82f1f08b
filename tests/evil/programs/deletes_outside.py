# Delete files and a tree outside the sample's directory by every route; passes only if they were there and are gone.
import os
import pathlib
import shutil

seen = os.path.exists("__OUTSIDE__/victim.txt")
for attempt in (lambda: os.remove("__OUTSIDE__/victim.txt"), lambda: pathlib.Path("__OUTSIDE__/victim.txt").unlink(),
                lambda: shutil.rmtree("__OUTSIDE__/tree"), lambda: os.rename("__OUTSIDE__/victim.txt", "moved")):
    try:
        attempt()
    except Exception:
        pass
assert seen and not os.path.exists("__OUTSIDE__/victim.txt")
