"""The `snasnet` command line and terminal dashboard: they translate between people and the library."""
