"""rankinv.tui: the Textual TUI behind ``rankinv watch``. It reads the store and never computes diagnostics."""
