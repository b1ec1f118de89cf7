"""Offline replay: files read once through the chain, in one process or spread over every core."""
