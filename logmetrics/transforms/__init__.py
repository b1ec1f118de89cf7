"""Stage 3, transforms: what happens to events between parsing and any sink (redaction, filtering)."""
