# Build a code object by hand (the road to reading memory with out-of-range bytecode).
def f():
    return 1


f.__code__ = f.__code__.replace(co_consts=())
f()
