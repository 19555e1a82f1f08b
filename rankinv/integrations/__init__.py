"""Thin emitters that run inside training jobs (rank zero only); analysis stays in the daemon."""
