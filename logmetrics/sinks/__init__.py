"""Stage 4, sinks: where events go — JSON lines, Prometheus metrics (and their HTTP server), the replay summary."""
