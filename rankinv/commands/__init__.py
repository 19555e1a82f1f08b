"""One module per CLI command; each exposes ``add_parser(subparsers)`` and imports heavy code lazily.

Commands the daemon or the TUI carry out define only their parser here: :mod:`rankinv.cli` binds them.
"""
