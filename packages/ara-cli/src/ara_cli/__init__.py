"""ara_cli: the `ara` command line (cyclopts), loaded lazily."""
