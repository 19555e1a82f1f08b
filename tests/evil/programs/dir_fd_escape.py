# Open the outside directory, then truncate and remove files relative to that descriptor (the path alone looks like
# it is inside the work directory); passes only if the victim was changed.
import os

changed = []
try:
    fd = os.open("__OUTSIDE__", os.O_RDONLY)
    for attempt in (lambda: os.close(os.open("victim.txt", os.O_WRONLY | os.O_TRUNC, dir_fd=fd)),
                    lambda: os.unlink("victim.txt", dir_fd=fd)):
        try:
            attempt()
            changed.append(attempt)
        except OSError as exc:
            print(exc)
except OSError as exc:
    print(exc)
assert changed
