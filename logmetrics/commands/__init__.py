"""One module per command: the work behind each `logmetrics` subcommand."""
