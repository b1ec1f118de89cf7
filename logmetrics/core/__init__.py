"""What every stage shares: the event's models, the pipeline's counters, the user-error type, linear-time checks."""
