# Move itself to the root cgroups (root may write cgroup.procs), then leave a sleeping grandchild behind.
import posix
import time

moved = []
for procs in ("/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/unified/cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs"):
    try:
        with open(procs, "w") as f:
            f.write(str(posix.getpid()))
        moved.append(procs)
    except OSError as exc:
        print(exc)
if posix.fork() == 0:
    posix.setsid()
    if posix.fork() == 0:
        time.sleep(600)
    posix._exit(0)
assert moved
