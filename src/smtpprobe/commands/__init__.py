"""One module per CLI command; shared options and output in `_common`."""
