# Kill the harness, leave the session, double fork; the grandchild lives on. The sample itself then fails.
# (posix.* rather than os.*: older harnesses set os.kill and os.fork to None.)
import posix
import signal
import time

posix.kill(posix.getppid(), signal.SIGKILL)
if posix.fork() == 0:
    posix.setsid()
    if posix.fork() == 0:
        time.sleep(600)
    posix._exit(0)
time.sleep(0.5)
raise SystemExit(1)
