"""Histogram buckets that fit LLM serving (seconds; tokens per second): the contract's defaults.

Its own module: settings validate against it and two sinks (metrics, summary)
bucket by it, and none of them should import another for a constant.
"""

from __future__ import annotations

__all__ = ["DEFAULT_BUCKETS"]

DEFAULT_BUCKETS: dict[str, list[float]] = {
    "logmetrics_request_duration_seconds": [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    "logmetrics_model_load_duration_seconds": [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600],
    "logmetrics_tokens_per_second": [1, 2.5, 5, 10, 20, 30, 50, 75, 100, 150, 250, 500, 1000],
}
