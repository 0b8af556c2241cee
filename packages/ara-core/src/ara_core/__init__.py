"""ara_core: the Ara wire contract in plain Python.

Manifest models and validation, id rules, schedules and the authoring helpers, with no network
and no heavy imports: ``pip install ara-core`` gives manifest-only tooling.
"""

from ._ids import PROJECT_NAME_PATTERN, new_run_id, slugify

__all__ = sorted(["PROJECT_NAME_PATTERN", "new_run_id", "slugify"])
