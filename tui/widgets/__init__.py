"""One widget per file: the main screen's table, status bar and feed; the detail screen's plots and panels."""
