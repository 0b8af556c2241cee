"""A script without an App instance."""

VALUE = 1
