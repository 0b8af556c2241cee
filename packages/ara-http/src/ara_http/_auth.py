"""Supabase token requests for the CLI login and JWT refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx

from ._transport import HttpClient
from .errors import ApiError, SupabaseAuthError

__all__ = ["expires_at_iso", "refresh_supabase_record", "supabase_token_request"]


def supabase_token_request(
    *,
    supabase_url: str,
    supabase_anon_key: str,
    grant_type: str,
    body: dict[str, Any],
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """`POST <supabase_url>/auth/v1/token?grant_type=<grant>` with the `apikey` header.

    Raises:
        SupabaseAuthError: `Supabase auth request failed (<code>): <body>` (a `RuntimeError`).
    """
    client = HttpClient(supabase_url, transport=transport)
    try:
        result: object = client.request(
            "POST",
            f"/auth/v1/token?grant_type={grant_type}",
            json=body,
            auth=None,
            headers={"apikey": supabase_anon_key, "Accept": "application/json"},
        )
    except ApiError as exc:
        code = exc.status if exc.status is not None else "network"
        raise SupabaseAuthError(
            f"Supabase auth request failed ({code}): {exc.body or exc}", status=exc.status
        ) from None
    finally:
        client.close()
    return cast("dict[str, Any]", result) if isinstance(result, dict) else {}


def expires_at_iso(tokens: dict[str, Any]) -> str:
    """Token expiry as ISO UTC: `expires_at` (epoch or ISO), else now + `expires_in`.

    Raises:
        SupabaseAuthError: Neither field is usable (a `RuntimeError`).
    """
    value = tokens.get("expires_at")
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        except ValueError:
            pass
    expires_in = tokens.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        return (datetime.now(UTC) + timedelta(seconds=float(expires_in))).isoformat()
    raise SupabaseAuthError("Supabase auth response did not include a valid expires_at or expires_in field.")


def refresh_supabase_record(
    record: dict[str, Any], *, transport: httpx.BaseTransport | None = None
) -> dict[str, Any]:
    """Refresh a stored `supabase_jwt` record with its refresh token.

    Raises:
        SupabaseAuthError: The refresh failed or returned no `access_token` (a `RuntimeError`).
    """
    tokens = supabase_token_request(
        supabase_url=str(record["supabase_url"]),
        supabase_anon_key=str(record.get("supabase_anon_key") or ""),
        grant_type="refresh_token",
        body={"refresh_token": record["refresh_token"]},
        transport=transport,
    )
    if not tokens.get("access_token"):
        raise SupabaseAuthError(
            "Supabase token refresh returned no access_token; run `ara auth login` again."
        )
    return {
        **record,
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token") or record["refresh_token"],
        "expires_at": expires_at_iso(tokens),
        "user": tokens.get("user") or record.get("user") or {},
    }
