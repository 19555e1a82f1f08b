"""The trust boundary: how rankinv reads files under a runs root, writes its own files, and prints names.

Everything under a runs root is untrusted input (written by training code, colleagues, anyone with write access):
``files`` opens only regular files and keeps reads inside the root, ``atomic`` writes without following planted
symlinks, ``text`` shows names as data.
"""
