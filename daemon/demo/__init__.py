"""``rankinv demo``: replay the bundled real training runs into a fresh root watched by a dry-run daemon."""
