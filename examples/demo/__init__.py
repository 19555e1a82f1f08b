"""The bundled demo: real tiny TRL runs (``build_runs``) that ``rankinv demo`` replays into a watched root."""
