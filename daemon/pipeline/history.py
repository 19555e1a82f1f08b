"""The predictor's history: finished runs in the store with a measured final pass@10, and the model fitted on them.

A run's outcome is its peak logged eval pass@k (``eval/pass@10``, ``eval/<set>/pass@10``), the paper's "peak
pass@10". Once ``[predict] min_history`` runs have one, every prediction uses the fitted model and says so in its
basis ("fitted on N runs (LOO Spearman …, MAE …)"); before that, the documented prior. The fit is refreshed at
most every ``refresh_seconds`` and only when the history changed, so it costs nothing between refreshes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from rankinv.config import Config
from rankinv.evaluate import run_features
from rankinv.metrics import EVAL_PREFIX
from rankinv.monitor import RunSeries, analyse
from rankinv.predict import Features, FittedModel, fit, with_rl_start
from rankinv.store import RunRecord, Store

REFRESH_SECONDS = 60.0


class History:
    def __init__(self, store: Store, config: Config, series: Callable[[str], RunSeries],
                 features: Callable[[str | None], Features | None], refresh_seconds: float = REFRESH_SECONDS):
        self.store, self.config = store, config
        self._series, self._features = series, features
        self.refresh_seconds = refresh_seconds
        self._checked = -math.inf
        self._key: tuple[tuple[str, float], ...] = ()
        self._model: FittedModel | None = None

    def outcome(self, run: str) -> float:
        """Peak logged eval pass@k of ``run`` (k from ``[predict] k``); NaN when never logged."""
        wanted = f"pass@{self.config.predict.k}"
        names = [n for n in self.store.metric_names(run) if n.startswith(EVAL_PREFIX) and n.endswith(wanted)]
        values = [v for s in self.store.series(run, names).values() for v in s.values if math.isfinite(v)]
        return max(values) if values else math.nan

    def model(self) -> FittedModel | None:
        """The model fitted on the current history, or None while there are too few finished runs."""
        now = time.monotonic()
        if now - self._checked < self.refresh_seconds:
            return self._model
        self._checked = now
        peaks = self.store.peaks(EVAL_PREFIX, f"pass@{self.config.predict.k}")  # outcome() of every run at once
        finished = [(run, peaks[run.name]) for run in (self.store.runs() if peaks else ()) if run.name in peaks]
        key = tuple(sorted((run.name, y) for run, y in finished))
        if key != self._key:
            self._key = key
            self._model = self._fit(finished)
        return self._model

    def key(self) -> tuple[tuple[str, float], ...]:
        """The finished runs and outcomes the current model was fitted on (refreshed as :meth:`model` is)."""
        self.model()
        return self._key

    def _fit(self, finished: list[tuple[RunRecord, float]]) -> FittedModel | None:
        if len(finished) < self.config.predict.min_history:
            return None
        rows = []
        for run, y in finished:
            base = run_features(self._features(run.parent), run.name, run.manifest, self.config)
            rows.append((with_rl_start(base, analyse(self._series(run.name), self.config.monitor)), y))
        try:
            return fit(rows, self.config.predict)
        except ValueError:
            return None
