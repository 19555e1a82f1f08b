"""Screens: the ranking (main), one candidate (detail), and the modal help, confirm and filter dialogs."""
