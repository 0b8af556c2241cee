"""The webhook callback URL policy: which URLs a runtime key may ask the server to call."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import ApiProblem

__all__ = ["check_callback_url", "is_public_address"]

#: Longest callback URL accepted, in characters.
MAX_URL_LENGTH = 2048


def is_public_address(address: str) -> bool:
    """Whether an IP address is a public unicast address (not loopback, private, link-local,
    multicast, reserved, unspecified, shared (100.64/10) or an IPv4-mapped private address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_callback_url(url: object, *, allow_private: bool, where: str = "$.callback.url") -> str:
    """Validate a webhook callback URL and return it.

    The URL must be `http` or `https` with a host, without user info, at most 2048 characters.
    Unless `allow_private` (the `allow_private_callbacks` setting; `ara dev` sets it), every
    address the host resolves to must be public: loopback, private, link-local (cloud metadata),
    shared and reserved ranges are refused, so a runtime key cannot make the server call into its
    own network. The check runs when the run is submitted (and the outbox checks again before
    each delivery: `services.outbox.callback_target`).

    Raises:
        ApiProblem: 422 `invalid_callback`, naming `where`.
    """

    def refuse(reason: str) -> ApiProblem:
        return ApiProblem(422, "invalid_callback", f"at `{where}`: {reason}")

    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise refuse(f"must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not carry a user name or password")
    if allow_private:
        return url
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host).compressed]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise refuse(f"host {host!r} does not resolve ({exc})") from None
        addresses = sorted({str(info[4][0]) for info in infos})
    private = [a for a in addresses if not is_public_address(a)]
    if private:
        raise refuse(
            f"host {host!r} is a loopback, private or otherwise non-public address ({', '.join(private)}); "
            "the server's operator can allow such callbacks with the allow_private_callbacks setting"
        )
    return url
