"""Errors of ara_core, and `AraError`, the base of every error the ara packages raise on purpose.

Each error also subclasses the builtin it resembles (`ValueError` for bad declarations and input,
`RuntimeError` for failed API calls), so code written against the original SDK keeps working.
"""

from __future__ import annotations

__all__ = ["AraError", "ArgumentError", "DeclarationError", "ManifestError", "ProjectNameError"]


class AraError(Exception):
    """Base class of every error raised on purpose by ara-core, ara-http, ara-sdk and ara-cli.

    Catch `AraError` to handle anything the user or the server can cause; anything else is a bug.
    Subclasses add the builtin they resemble, e.g. `ManifestError(AraError, ValueError)` and
    `ara_http.ApiError(AraError, RuntimeError)`.
    """


class DeclarationError(AraError, ValueError):
    """A decorator or helper was given something it cannot use; the message says how to fix it."""


class ProjectNameError(DeclarationError):
    """An app's project name is not DNS-safe (lowercase letters, digits and hyphens, 1-63 characters).

    Attributes:
        name: The rejected name.
    """

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class ArgumentError(AraError, ValueError):
    """A tool argument does not fit the tool's JSON schema; the message names `$.<param>`."""


class ManifestError(AraError, ValueError):
    """A manifest failed validation.

    Attributes:
        errors: `(json_path, message)` pairs, e.g. `("$.workflows[2].trigger.cron", "...")`.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        lines = [f"at `{path}`: {message}" for path, message in self.errors]
        super().__init__("invalid manifest:\n  " + "\n  ".join(lines) if lines else "invalid manifest")
