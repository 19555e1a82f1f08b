# Raise the runner's own pass event from the program, from a signal handler, from a thread and at exit, after
# replacing the names the runner calls at its end; then fail the tests.
import atexit
import builtins
import os
import signal
import sys
import threading

audit = sys.audit
audit("rankinv.pass")
signal.signal(signal.SIGALRM, lambda *a: audit("rankinv.pass"))
signal.setitimer(signal.ITIMER_REAL, 0.01)
threading.Thread(target=audit, args=("rankinv.pass",)).start()
atexit.register(audit, "rankinv.pass")
frame = sys._getframe(1)
frame.f_globals["sys"] = type("S", (), {"audit": staticmethod(lambda *a: os._exit(0))})
builtins.print = lambda *a, **k: None
sys.exit = os._exit = lambda *a: None
assert False, "the tests"
