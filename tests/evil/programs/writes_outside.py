# Overwrite a file outside the sample's directory and create a new one there; passes only if both worked.
for attempt in ("__OUTSIDE__/victim.txt", "__OUTSIDE__/planted.txt"):
    try:
        with open(attempt, "w") as f:
            f.write("owned")
    except OSError:
        pass
assert open("__OUTSIDE__/victim.txt").read() == "owned"
