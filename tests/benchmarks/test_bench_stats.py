"""Stats helpers: percentiles match NumPy, summaries, and the call timer."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.stats import percentile, sample_calls, summarize, time_calls


class TestPercentile:
    def test_matches_numpy_linear(self):
        rng = np.random.default_rng(0)
        data = rng.exponential(3.0, size=37).tolist()
        for q in (0, 5, 25, 50, 90, 95, 100):
            assert percentile(data, q) == pytest.approx(np.percentile(data, q))

    def test_known_values(self):
        assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
        assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 5) == pytest.approx(1.2)
        assert percentile([7.0], 95) == 7.0

    def test_rejects_empty_and_out_of_range(self):
        with pytest.raises(ValueError):
            percentile([], 50)
        with pytest.raises(ValueError):
            percentile([1.0], 101)


class TestSummarize:
    def test_fields(self):
        s = summarize([10.0, 20.0, 30.0, 40.0, 1000.0])
        assert (s.n, s.median_ms, s.min_ms, s.max_ms) == (5, 30.0, 10.0, 1000.0)
        assert s.mean_ms == pytest.approx(220.0)
        assert s.p5_ms == pytest.approx(12.0)
        assert s.p95_ms == pytest.approx(808.0)
        assert s.per_second == pytest.approx(1000.0 / 30.0)
        assert set(s.as_dict()) == {"n", "median_ms", "p5_ms", "p95_ms", "min_ms", "max_ms", "mean_ms"}

    def test_empty_raises(self):
        with pytest.raises(ValueError):
            summarize([])


class TestTimer:
    def test_warmup_untimed_and_indices_continue(self):
        seen: list[int] = []
        samples = sample_calls(seen.append, warmup=2, repeat=5)
        assert seen == [0, 1, 2, 3, 4, 5, 6]
        assert len(samples) == 5 and all(s >= 0 for s in samples)

    def test_budget_stops_early_after_three(self):
        import time

        s = time_calls(lambda i: time.sleep(0.01), warmup=0, repeat=100, budget_s=0.001)
        assert s.n == 3
        assert s.median_ms >= 9.0
