# Print without end.
while True:
    print("x" * 4096)
