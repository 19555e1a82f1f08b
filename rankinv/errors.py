"""The one exception type the CLI turns into a clean message instead of a traceback."""


class RankinvError(Exception):
    """A problem the user can fix; the message says what was wrong, where, and what to do."""
