# Leave the session through setsid and a double fork, keep a daemon running, and finish normally (a pass).
import posix
import time

if posix.fork() == 0:
    posix.setsid()
    if posix.fork() == 0:
        time.sleep(600)
    posix._exit(0)
posix.wait()
