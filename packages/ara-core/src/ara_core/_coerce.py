"""Converting tool arguments to the types of the tool's JSON schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from .errors import ArgumentError

__all__ = ["coerce_arguments"]

_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n"}


def _coerce(name: str, expected: str, value: Any) -> Any:
    def fail() -> ArgumentError:
        return ArgumentError(f"argument at `$.{name}` must be {expected}, got {value!r}")

    if value is None:
        return None
    if expected == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return json.dumps(value) if isinstance(value, bool) else str(value)
        return json.dumps(value, ensure_ascii=False)
    if expected == "integer":
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    raise fail() from None
                if number.is_integer():
                    return int(number)
        raise fail()
    if expected == "number":
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise fail() from None
            return (
                int(number)
                if number.is_integer() and "." not in value and "e" not in value.lower()
                else number
            )
        raise fail()
    if expected == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise fail()
    if expected in ("object", "array"):
        want: type = dict if expected == "object" else list
        if isinstance(value, want):
            return value
        if expected == "array" and isinstance(value, tuple | set):
            return list(cast("tuple[Any, ...] | set[Any]", value))
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                raise fail() from None
            if isinstance(decoded, want):
                return decoded
        raise fail()
    return value


def coerce_arguments(schema: Mapping[str, Any] | None, args: Mapping[str, Any]) -> dict[str, Any]:
    """Convert argument values to the types declared by a JSON schema.

    `"2"` becomes `2` for an `integer`, `"1.5"` becomes `1.5` for a `number`,
    `"true"/"false"/"yes"/"no"/"1"/"0"` become booleans, JSON text becomes an `object`/`array`,
    and numbers become strings for a `string`. Keys the schema does not declare, and properties
    without a `type`, are passed through unchanged.

    Args:
        schema: The tool's `parameters` schema (`{"type": "object", "properties": {...}}`).
        args: The arguments, e.g. from the model or from `--input k=v`.

    Returns:
        A new dict with converted values.

    Raises:
        ArgumentError: A value cannot be converted; the message names `$.<param>`, the expected
            type and the value.
    """
    found: object = (schema or {}).get("properties") or {}
    properties: Mapping[str, object] = (
        cast("Mapping[str, object]", found) if isinstance(found, Mapping) else {}
    )
    out: dict[str, Any] = {}
    for name, value in args.items():
        prop = properties.get(name)
        expected = cast("Mapping[str, object]", prop).get("type") if isinstance(prop, Mapping) else None
        out[name] = _coerce(name, expected, value) if isinstance(expected, str) else value
    return out
