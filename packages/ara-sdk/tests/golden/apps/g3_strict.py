"""Fixture: two jobs, no connectors, connector tools disabled."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

import ara_sdk as ara

ara.Job("first-job", allow_connector_tools=False)
second = ara.Job("second-job", system_instructions="Second.")
