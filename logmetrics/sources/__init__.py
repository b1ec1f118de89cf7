"""Stage 1, sources: which files a set of paths means, their bytes framed into lines, followed live or read once."""
