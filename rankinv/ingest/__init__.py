"""Incremental readers that turn every supported training-log format into canonical MetricPoints."""
