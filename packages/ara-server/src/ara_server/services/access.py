"""Who may do what: accounts by API key, app roles, runtime and app header keys with their rate
limits."""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import ApiProblem
from ..store import Store, accounts, apps, keys, webhooks
from ..store.keys import KeyMaterial
from .ratelimit import RateLimiter

__all__ = ["WRITE_ROLES", "AccessService"]

#: Roles that may change an app and run it.
WRITE_ROLES = ("owner", "member")


class AccessService:
    """Resolves callers to accounts and apps.

    Args:
        store: The store.
        limiter: Per-key request limits (default: a new in-memory one).
    """

    def __init__(self, store: Store, limiter: RateLimiter | None = None) -> None:
        self.store = store
        self.limiter = limiter or RateLimiter()

    async def account(self, api_key: str) -> dict[str, Any]:
        """The account of an API key.

        Raises:
            ApiProblem: 401 `unauthorized` (missing, invalid or revoked key).
        """
        if not api_key:
            raise ApiProblem(401, "unauthorized", "missing API key: send Authorization: Bearer <ARA_API_KEY>")
        account = await self._account_for(api_key)
        if account is None:
            raise ApiProblem(401, "unauthorized", "invalid or revoked API key")
        return account

    async def _account_for(self, api_key: str) -> dict[str, Any] | None:
        """The account of an API key, through the store's short-lived read cache."""
        return await self.store.cache.get(
            ("account", _digest(api_key)),
            lambda: self.store.run(accounts.account_for_api_key, api_key),
        )

    async def member_app(
        self, account: dict[str, Any], app_id: str, *, write: bool = False, owner_only: bool = False
    ) -> dict[str, Any]:
        """The app (with the account's `role`) the account may see, change (`write`) or administer
        (`owner_only`).

        Raises:
            ApiProblem: 404 `not_found` (not visible); 403 `forbidden` (role too low).
        """
        app = await self.store.run(apps.app_for, app_id, account["id"])
        if app is None:
            raise ApiProblem(404, "not_found", f"app {app_id!r} not found")
        if owner_only and app["role"] != "owner":
            raise ApiProblem(403, "forbidden", f"only the app's owner can do this (your role: {app['role']})")
        if write and app["role"] not in WRITE_ROLES:
            raise ApiProblem(
                403, "forbidden", f"your role on this app is {app['role']!r}; members and owners only"
            )
        return app

    async def runtime_app(self, app_id: str, *, header_key: str, bearer: str) -> dict[str, Any]:
        """The app of a runtime-plane call, authorized by an app header key, a runtime key or a
        member's API key; counts the request against the key's `requests_per_minute`.

        Raises:
            ApiProblem: 401 `unauthorized`; 403 `forbidden` (a viewer); 404 `not_found`;
                429 `rate_limited` (with a `Retry-After` header, seconds).
        """
        cache = self.store.cache
        app = await cache.get(("app", app_id), lambda: self.store.run(apps.get_app, app_id))
        if app is not None:
            key_row = None
            if header_key:
                key_row = await cache.get(
                    ("app_key", app["id"], "app_header", _digest(header_key)),
                    lambda: self.store.run(keys.app_key, app["id"], header_key, ("app_header",)),
                )
            if key_row is None and bearer:
                key_row = await cache.get(
                    ("app_key", app["id"], "runtime", _digest(bearer)),
                    lambda: self.store.run(keys.app_key, app["id"], bearer, ("runtime",)),
                )
            if key_row is not None:
                wait = self.limiter.check(key_row["id"], int(key_row["requests_per_minute"]))
                if wait is not None:
                    raise ApiProblem(
                        429,
                        "rate_limited",
                        f"this key allows {key_row['requests_per_minute']} requests per minute; "
                        f"retry in {wait:g} s",
                        headers={"Retry-After": str(int(wait))},
                    )
                return app
            if bearer:
                account = await self._account_for(bearer)
                role = None
                if account is not None:
                    member = await cache.get(
                        ("role", app["id"], account["id"]),
                        lambda: self.store.run(apps.app_for, app["id"], account["id"]),
                    )
                    role = (member or {}).get("role")
                if role in WRITE_ROLES:
                    return app
                if role == "viewer":
                    raise ApiProblem(
                        403, "forbidden", "viewers cannot run this app; ask the owner for the member role"
                    )
        if not header_key and not bearer:
            raise ApiProblem(
                401,
                "unauthorized",
                "missing runtime key: send Authorization: Bearer <runtime key> or X-Ara-App-Key",
            )
        if app is None:
            raise ApiProblem(404, "not_found", f"app {app_id!r} not found")
        raise ApiProblem(401, "unauthorized", "invalid or revoked runtime key or app header key")

    async def webhook_secret(self, app_id: str) -> str:
        """The app's webhook signing secret (generated on first use): callbacks that do not bring
        their own `secret` are signed with it.

        Raises:
            ApiProblem: 404 `not_found` (no such app).
        """
        secret = await self.store.run(webhooks.webhook_secret, self.store.box, app_id)
        if secret is None:
            raise ApiProblem(404, "not_found", f"app {app_id!r} not found")
        return secret

    async def rotate(self, account: dict[str, Any], old_key: str) -> tuple[KeyMaterial, str]:
        """Revoke `old_key` and mint a new API key for the account. Returns the key and its id."""
        return await self.store.run(accounts.rotate_api_key, account["id"], old_key)

    async def ready(self) -> None:
        """Check the database answers.

        Raises:
            Exception: The database is unreachable.
        """
        await self.store.ping()


def _digest(key: str) -> bytes:
    """A cache key for a secret key (the clear key is not kept in the cache)."""
    return hashlib.blake2b(key.encode(), digest_size=20).digest()
