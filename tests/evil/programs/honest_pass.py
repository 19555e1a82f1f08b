# Control: a correct solution and its tests.
def add(a, b):
    return a + b


def check(candidate):
    assert candidate(2, 3) == 5


check(add)
