# Write 800 MB as 800 files of 1 MB each (each under the per-file limit), printing the running total.
import os

os.makedirs("fill", exist_ok=True)
chunk = b"x" * (1024 * 1024)
for i in range(800):
    with open(f"fill/{i}", "wb") as f:
        f.write(chunk)
    print(f"written {i + 1} MB", flush=True)
