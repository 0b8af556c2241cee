"""Parsing of `--input k=v`, `--metadata k=v` and `--input-json`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import CliError

__all__ = ["build_payload", "parse_input_json", "parse_pairs"]


def parse_pairs(items: Iterable[str] | None, *, flag: str = "--input") -> dict[str, str]:
    """Parse repeatable `key=value` flag values.

    The split is at the first `=`; the key is stripped, the value kept verbatim; later duplicates
    win. Values stay strings: the server converts them to the types of the tool or agent schema.

    Args:
        items: The raw flag values, e.g. `["a=2", "note=hello world"]`.
        flag: The flag name used in error messages, e.g. `--input`.

    Returns:
        The parsed mapping.

    Raises:
        CliError: An item has no `=` or an empty key (e.g. `--input a3`).
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise CliError(f"{flag} expects key=value, got {item!r} (e.g. {flag} a=3)")
        out[key] = value
    return out


def parse_input_json(raw: str, *, flag: str = "--input-json") -> dict[str, Any]:
    """Parse `--input-json`: a JSON object, or `@path` to a file holding one.

    Args:
        raw: The flag value.
        flag: The flag name used in error messages.

    Returns:
        The decoded object.

    Raises:
        CliError: The file does not exist, the text is not valid JSON, or it is not an object.
    """
    text = raw.strip()
    source = flag
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        if not path.is_file():
            raise CliError(f"{flag} file not found: {path}")
        text = path.read_text(encoding="utf-8")
        source = f"{flag} file {path}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{source} must be valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise CliError(
            f"{source} must decode to a JSON object, got {type(value).__name__}; "
            'wrap values in an object, e.g. {"message": "hi"}'
        )
    return value


def build_payload(input_pairs: Iterable[str] | None, input_json: str, message: str) -> dict[str, Any]:
    """Build a run input: `--input-json` if non-blank, else the pairs; `--message` sets `message`.

    Args:
        input_pairs: `--input` items.
        input_json: `--input-json` value (may be empty).
        message: `--message` value (ignored when empty).

    Returns:
        The input payload.
    """
    payload: dict[str, Any] = (
        parse_input_json(input_json) if input_json.strip() else dict(parse_pairs(input_pairs))
    )
    if message:
        payload["message"] = message
    return payload
