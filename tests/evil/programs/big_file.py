# One file past the per-file size limit.
with open("big", "wb") as f:
    for _ in range(64):
        f.write(b"x" * (1024 * 1024))
