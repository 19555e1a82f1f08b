"""The daemon's stages, one module each: layout → record → ingest → triage → brain → act, plus commands and health.

Each stage is a small object the service calls; each reports what it could not do (a missing executor, an
unreadable file) instead of pretending, and none raises for one run's problem.
"""
