"""Fixtures for end-to-end tests (defined in e2e_support)."""

from e2e_support import _clean_ara_env, cli, home, server, workdir  # noqa: F401
