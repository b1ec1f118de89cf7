"""logmetrics: typed events, JSON lines and Prometheus metrics from local LLM-serving logs.

Pipeline stages, one module each: sources → envelopes → parsing → events → sinks
(JSON lines, metrics, summary).
"""

__version__ = "0.1.0"
