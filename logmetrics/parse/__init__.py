"""Stage 2, parse: envelopes peeled, definitions compiled, each line turned into a typed event dict."""
