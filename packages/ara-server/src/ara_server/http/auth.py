"""Principal resolution for requests: the account of an API key, the caller's app and role, and
runtime-plane callers (runtime keys, app header keys, members' API keys, with rate limits)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..services.access import AccessService
from .body import bearer, header

__all__ = ["Auth"]


class Auth:
    """Resolves the caller of a request.

    Args:
        access: The access service.
    """

    def __init__(self, access: AccessService) -> None:
        self.access = access

    async def account(self, request: Request) -> dict[str, Any]:
        """The account of the request's `Authorization: Bearer <API key>` (401 otherwise)."""
        return await self.access.account(bearer(request))

    async def member_app(
        self, request: Request, *, write: bool = False, owner_only: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """`(account, app)` for the `{app_id}` of the path, checking the caller's role (401, 403, 404)."""
        account = await self.account(request)
        app = await self.access.member_app(
            account, request.path_params["app_id"], write=write, owner_only=owner_only
        )
        return account, app

    async def runtime_app(self, request: Request) -> dict[str, Any]:
        """The app of a runtime-plane call (401, 403, 404, 429)."""
        return await self.access.runtime_app(
            request.path_params["app_id"],
            header_key=(header(request, "x-ara-app-key") or "").strip(),
            bearer=bearer(request),
        )
