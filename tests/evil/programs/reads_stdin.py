# Wait for input that never comes.
line = input()
assert line
