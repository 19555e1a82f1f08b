# Use no CPU at all, so only the wall-clock limit can end it.
import time

time.sleep(10_000)
