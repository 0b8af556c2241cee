"""Persistence for ara-server on SQLAlchemy Core: SQLite (WAL, busy timeout) or PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from . import _schema as t
from ._keys import KeyMaterial, SecretBox, hash_key, new_id
from ._settings import Settings

__all__ = ["Store", "now"]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def _run_migrations(connection: sa.Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ara_server") / "migrations"))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _row(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


class Store:
    """All database access of one server node.

    Args:
        settings: Server settings (database URL, data dir).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine | None = None
        self.box = SecretBox(settings.data_dir)

    async def open(self) -> None:
        """Connect and apply the Alembic migrations (`upgrade head`)."""
        url = self.settings.url
        if url.startswith("sqlite"):
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

            @event.listens_for(engine.sync_engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        else:
            engine = create_async_engine(url, pool_pre_ping=True)
        self.engine = engine
        async with engine.begin() as conn:
            await conn.run_sync(_run_migrations)

    async def close(self) -> None:
        """Dispose of the connection pool."""
        if self.engine is not None:
            await self.engine.dispose()

    def _begin(self) -> Any:
        assert self.engine is not None, "Store.open() first"
        return self.engine.begin()

    # ------------------------------------------------------------------------- accounts, keys
    async def ensure_owner(self, api_key: str | None) -> str | None:
        """Create the owner account on first start; register `api_key` for it when given.

        Returns:
            The clear key when one was generated now, else `None`.
        """
        async with self._begin() as conn:
            owner = _row((await conn.execute(sa.select(t.accounts).where(t.accounts.c.is_owner))).first())
            if owner is None:
                owner = {
                    "id": new_id("acct"),
                    "email": self.settings.owner_email,
                    "is_owner": True,
                    "created_at": now(),
                }
                await conn.execute(sa.insert(t.accounts).values(**owner))
            generated = None
            if api_key:
                material = KeyMaterial("api", api_key)
            else:
                has_key = (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(t.api_keys)
                        .where(t.api_keys.c.account_id == owner["id"], t.api_keys.c.revoked_at.is_(None))
                    )
                ).scalar_one()
                if has_key:
                    return None
                material = KeyMaterial("api")
                generated = material.key
            exists = (
                await conn.execute(sa.select(t.api_keys.c.id).where(t.api_keys.c.key_hash == material.hash))
            ).first()
            if exists is None:
                await conn.execute(
                    sa.insert(t.api_keys).values(
                        id=new_id("key"),
                        account_id=owner["id"],
                        key_prefix=material.prefix,
                        key_hash=material.hash,
                        created_at=now(),
                    )
                )
            return generated

    async def account_for_api_key(self, key: str) -> dict[str, Any] | None:
        """The account owning an active API key."""
        async with self._begin() as conn:
            row = (
                await conn.execute(
                    sa.select(t.accounts)
                    .join(t.api_keys, t.api_keys.c.account_id == t.accounts.c.id)
                    .where(t.api_keys.c.key_hash == hash_key(key), t.api_keys.c.revoked_at.is_(None))
                )
            ).first()
            return _row(row)

    async def account_by_email(self, email: str, *, create: bool = False) -> dict[str, Any] | None:
        """The account with this email (created when `create`)."""
        async with self._begin() as conn:
            row = _row((await conn.execute(sa.select(t.accounts).where(t.accounts.c.email == email))).first())
            if row is None and create:
                row = {"id": new_id("acct"), "email": email, "is_owner": False, "created_at": now()}
                await conn.execute(sa.insert(t.accounts).values(**row))
            return row

    async def new_api_key(self, account_id: str) -> KeyMaterial:
        """Mint an API key for an account (invitees, tests)."""
        material = KeyMaterial("api")
        async with self._begin() as conn:
            await conn.execute(
                sa.insert(t.api_keys).values(
                    id=new_id("key"),
                    account_id=account_id,
                    key_prefix=material.prefix,
                    key_hash=material.hash,
                    created_at=now(),
                )
            )
        return material

    async def rotate_api_key(self, account_id: str, old_key: str) -> tuple[KeyMaterial, str]:
        """Revoke the calling key and mint a new one. Returns the new key and its id."""
        material = KeyMaterial("api")
        key_id = new_id("key")
        async with self._begin() as conn:
            await conn.execute(
                sa.update(t.api_keys)
                .where(t.api_keys.c.key_hash == hash_key(old_key))
                .values(revoked_at=now())
            )
            await conn.execute(
                sa.insert(t.api_keys).values(
                    id=key_id,
                    account_id=account_id,
                    key_prefix=material.prefix,
                    key_hash=material.hash,
                    created_at=now(),
                )
            )
        return material, key_id

    # ---------------------------------------------------------------------------------- apps
    async def list_apps(self, account_id: str) -> list[dict[str, Any]]:
        """Apps the account owns or is a member of, with its `role`."""
        async with self._begin() as conn:
            owned = (await conn.execute(sa.select(t.apps).where(t.apps.c.owner_id == account_id))).all()
            shared = (
                await conn.execute(
                    sa.select(t.apps, t.app_members.c.role)
                    .join(t.app_members, t.app_members.c.app_id == t.apps.c.id)
                    .where(t.app_members.c.account_id == account_id)
                )
            ).all()
        out = [{**dict(r._mapping), "role": "owner"} for r in owned]
        out += [dict(r._mapping) for r in shared]
        return out

    async def app_for(self, app_id: str, account_id: str) -> dict[str, Any] | None:
        """The app with the caller's role (`owner`, `member`, `viewer`), or `None` if not visible."""
        async with self._begin() as conn:
            app = _row((await conn.execute(sa.select(t.apps).where(t.apps.c.id == app_id))).first())
            if app is None:
                return None
            if app["owner_id"] == account_id:
                return {**app, "role": "owner"}
            member = (
                await conn.execute(
                    sa.select(t.app_members.c.role).where(
                        t.app_members.c.app_id == app_id, t.app_members.c.account_id == account_id
                    )
                )
            ).first()
            return {**app, "role": member[0]} if member else None

    async def app(self, app_id: str) -> dict[str, Any] | None:
        """The app row."""
        async with self._begin() as conn:
            return _row((await conn.execute(sa.select(t.apps).where(t.apps.c.id == app_id))).first())

    async def create_app(self, owner_id: str, slug: str, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Insert an app; `None` when the slug is taken."""
        row = {
            "id": new_id("app"),
            "owner_id": owner_id,
            "slug": slug,
            "name": str(manifest.get("name") or slug),
            "status": "inactive",
            "manifest": manifest,
            "created_at": now(),
            "updated_at": now(),
        }
        try:
            async with self._begin() as conn:
                await conn.execute(sa.insert(t.apps).values(**row))
        except IntegrityError:
            return None
        return row

    async def update_app(
        self, app_id: str, *, manifest: dict[str, Any] | None = None, status: str | None = None
    ) -> None:
        """Replace the manifest and/or set the status."""
        values: dict[str, Any] = {"updated_at": now()}
        if manifest is not None:
            values["manifest"] = manifest
            values["name"] = str(manifest.get("name") or "")
        if status is not None:
            values["status"] = status
        async with self._begin() as conn:
            await conn.execute(sa.update(t.apps).where(t.apps.c.id == app_id).values(**values))

    # ------------------------------------------------------------------- runtime / header keys
    async def create_app_key(self, app_id: str, kind: str, name: str, rpm: int) -> tuple[KeyMaterial, str]:
        """Mint a runtime (`runtime`) or app header (`app_header`) key. Returns the key and its id."""
        material = KeyMaterial(kind)
        key_id = new_id("rk" if kind == "runtime" else "xk")
        async with self._begin() as conn:
            await conn.execute(
                sa.insert(t.app_keys).values(
                    id=key_id,
                    app_id=app_id,
                    kind=kind,
                    name=name,
                    key_prefix=material.prefix,
                    key_hash=material.hash,
                    requests_per_minute=rpm,
                    created_at=now(),
                )
            )
        return material, key_id

    async def app_for_key(self, app_id: str, key: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        """The active key row (`id`, `requests_per_minute`) if `key` is one of `kinds` for the app."""
        async with self._begin() as conn:
            row = (
                await conn.execute(
                    sa.select(t.app_keys.c.id, t.app_keys.c.requests_per_minute).where(
                        t.app_keys.c.app_id == app_id,
                        t.app_keys.c.key_hash == hash_key(key),
                        t.app_keys.c.kind.in_(kinds),
                        t.app_keys.c.revoked_at.is_(None),
                    )
                )
            ).first()
            return _row(row)

    async def list_app_keys(self, app_id: str, kind: str) -> list[dict[str, Any]]:
        """Keys of a kind (no hashes)."""
        async with self._begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.app_keys)
                    .where(t.app_keys.c.app_id == app_id, t.app_keys.c.kind == kind)
                    .order_by(t.app_keys.c.created_at)
                )
            ).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "key_prefix": r.key_prefix,
                "requests_per_minute": r.requests_per_minute,
                "is_active": r.revoked_at is None,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]

    async def revoke_app_key(self, app_id: str, key_id: str, kind: str) -> bool:
        """Revoke a key; `False` if there is no such key."""
        async with self._begin() as conn:
            result = await conn.execute(
                sa.update(t.app_keys)
                .where(t.app_keys.c.app_id == app_id, t.app_keys.c.id == key_id, t.app_keys.c.kind == kind)
                .values(revoked_at=now())
            )
            return bool(result.rowcount)

    # ------------------------------------------------------------------------------- secrets
    async def put_secret(self, app_id: str, name: str, values: dict[str, str]) -> None:
        """Create or replace a secret (values encrypted)."""
        sealed = self.box.seal(values)
        async with self._begin() as conn:
            exists = (
                await conn.execute(
                    sa.select(t.secrets.c.name).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
                )
            ).first()
            stmt = (
                sa.update(t.secrets).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
                if exists
                else sa.insert(t.secrets).values(app_id=app_id, name=name)
            )
            await conn.execute(stmt.values(ciphertext=sealed, keys=sorted(values), updated_at=now()))

    async def list_secrets(self, app_id: str) -> list[dict[str, Any]]:
        """Secret names and key names, never values."""
        async with self._begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.secrets.c.name, t.secrets.c["keys"], t.secrets.c.updated_at)
                    .where(t.secrets.c.app_id == app_id)
                    .order_by(t.secrets.c.name)
                )
            ).all()
        return [
            {"name": r.name, "keys": r._mapping["keys"], "updated_at": r.updated_at.isoformat()} for r in rows
        ]

    async def delete_secret(self, app_id: str, name: str) -> bool:
        """Delete a secret; `False` if absent."""
        async with self._begin() as conn:
            result = await conn.execute(
                sa.delete(t.secrets).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
            )
            return bool(result.rowcount)

    async def secret_env(self, app_id: str) -> dict[str, str]:
        """All secret values of an app merged into one environment (for its sandbox)."""
        async with self._begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.secrets.c.ciphertext)
                    .where(t.secrets.c.app_id == app_id)
                    .order_by(t.secrets.c.name)
                )
            ).all()
        env: dict[str, str] = {}
        for r in rows:
            env.update({str(k): str(v) for k, v in self.box.open(r.ciphertext).items()})
        return env

    # ------------------------------------------------------------------------------- invites
    async def invite(self, app_id: str, email: str, role: str, hours: int) -> dict[str, Any]:
        """Record an invite and grant the role (the invitee's account is created if needed)."""
        account = await self.account_by_email(email, create=True)
        assert account is not None
        token = KeyMaterial("invite")
        row = {
            "id": new_id("inv"),
            "app_id": app_id,
            "email": email,
            "role": role,
            "created_at": now(),
            "expires_at": now() + timedelta(hours=hours),
            "token_hash": token.hash,
        }
        async with self._begin() as conn:
            await conn.execute(sa.insert(t.invites).values(**row))
            existing = (
                await conn.execute(
                    sa.select(t.app_members.c.role).where(
                        t.app_members.c.app_id == app_id, t.app_members.c.account_id == account["id"]
                    )
                )
            ).first()
            if existing:
                await conn.execute(
                    sa.update(t.app_members)
                    .where(t.app_members.c.app_id == app_id, t.app_members.c.account_id == account["id"])
                    .values(role=role)
                )
            else:
                await conn.execute(
                    sa.insert(t.app_members).values(
                        app_id=app_id, account_id=account["id"], role=role, created_at=now()
                    )
                )
        return {**row, "account_id": account["id"], "token": token.key}

    async def accept_invite(self, token: str) -> tuple[dict[str, Any], KeyMaterial] | None:
        """Redeem an invite token once: returns the invite and a new API key for the invitee."""
        async with self._begin() as conn:
            invite = _row(
                (
                    await conn.execute(
                        sa.select(t.invites).where(
                            t.invites.c.token_hash == hash_key(token), t.invites.c.accepted_at.is_(None)
                        )
                    )
                ).first()
            )
            if invite is None:
                return None
            expires = invite["expires_at"]
            expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
            if expires < now():
                return None
            claimed = await conn.execute(
                sa.update(t.invites)
                .where(t.invites.c.id == invite["id"], t.invites.c.accepted_at.is_(None))
                .values(accepted_at=now())
            )
            if not claimed.rowcount:
                return None
        account = await self.account_by_email(invite["email"], create=True)
        assert account is not None
        return invite, await self.new_api_key(account["id"])

    # ---------------------------------------------------------------------------------- runs
    async def insert_run(self, row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert a run; when its idempotency key exists, return the existing run and `False`."""
        values = {
            "result": None,
            "error": None,
            "callback": None,
            "attempts": 0,
            "started_at": None,
            "finished_at": None,
            "trace": [],
            "created_at": now(),
            **row,
        }
        try:
            async with self._begin() as conn:
                await conn.execute(sa.insert(t.runs).values(**values))
            return values, True
        except IntegrityError:
            async with self._begin() as conn:
                clause = (
                    sa.and_(
                        t.runs.c.app_id == row["app_id"], t.runs.c.idempotency_key == row["idempotency_key"]
                    )
                    if row.get("idempotency_key")
                    else t.runs.c.run_id == row["run_id"]
                )
                existing = _row((await conn.execute(sa.select(t.runs).where(clause))).first())
            if existing is None:
                raise
            return existing, False

    async def get_run(self, app_id: str, run_id: str) -> dict[str, Any] | None:
        """A run of an app."""
        async with self._begin() as conn:
            return _row(
                (
                    await conn.execute(
                        sa.select(t.runs).where(t.runs.c.app_id == app_id, t.runs.c.run_id == run_id)
                    )
                ).first()
            )

    async def update_run(self, run_id: str, **values: Any) -> None:
        """Update a run's columns."""
        async with self._begin() as conn:
            await conn.execute(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(**values))

    async def claim_queued_run(self) -> dict[str, Any] | None:
        """Atomically move the oldest queued async run to `running` and return it (safe across nodes)."""
        async with self._begin() as conn:
            row = _row(
                (
                    await conn.execute(
                        sa.select(t.runs)
                        .where(t.runs.c.status == "queued")
                        .order_by(t.runs.c.created_at)
                        .limit(1)
                    )
                ).first()
            )
            if row is None:
                return None
            claimed = await conn.execute(
                sa.update(t.runs)
                .where(t.runs.c.run_id == row["run_id"], t.runs.c.status == "queued")
                .values(status="running", started_at=now(), attempts=row["attempts"] + 1)
            )
            if not claimed.rowcount:
                return None
            row.update(status="running")
            return row

    async def requeue_running(self) -> int:
        """At startup: async runs left `running` by a crash go back to `queued`. Returns how many."""
        async with self._begin() as conn:
            result = await conn.execute(
                sa.update(t.runs)
                .where(t.runs.c.status == "running", t.runs.c.mode == "async")
                .values(status="queued")
            )
            return int(result.rowcount or 0)

    # -------------------------------------------------------------------------------- events
    async def record_event(
        self, app_id: str, key: str | None, body: dict[str, Any], response: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """Store an event. Returns `(response, outcome)` with outcome `new`, `replay` or `conflict`."""
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        if key:
            async with self._begin() as conn:
                existing = _row(
                    (
                        await conn.execute(
                            sa.select(t.events).where(
                                t.events.c.app_id == app_id, t.events.c.idempotency_key == key
                            )
                        )
                    ).first()
                )
            if existing:
                return existing["response"], ("replay" if existing["body_hash"] == digest else "conflict")
        try:
            async with self._begin() as conn:
                await conn.execute(
                    sa.insert(t.events).values(
                        id=response["event_id"],
                        app_id=app_id,
                        idempotency_key=key,
                        body_hash=digest,
                        body=body,
                        response=response,
                        created_at=now(),
                    )
                )
        except IntegrityError:
            return await self.record_event(app_id, key, body, response)
        return response, "new"

    # ---------------------------------------------------------------------------------- logs
    async def add_log(
        self, app_id: str, run_id: str | None, level: str, event_type: str, message: str
    ) -> None:
        """Append a log line for the app."""
        async with self._begin() as conn:
            await conn.execute(
                sa.insert(t.logs).values(
                    app_id=app_id,
                    run_id=run_id,
                    level=level,
                    event_type=event_type,
                    message=message,
                    created_at=now(),
                )
            )

    async def logs_after(self, app_id: str, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """Log rows of an app with id > `after_id`, oldest first."""
        async with self._begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.logs)
                    .where(t.logs.c.app_id == app_id, t.logs.c.id > after_id)
                    .order_by(t.logs.c.id)
                    .limit(limit)
                )
            ).all()
        return [dict(r._mapping) for r in rows]


async def _session_row(conn: AsyncConnection, account_id: str) -> dict[str, Any] | None:
    return _row(
        (
            await conn.execute(
                sa.select(t.sessions)
                .where(t.sessions.c.account_id == account_id)
                .order_by(t.sessions.c.created_at.desc())
                .limit(1)
            )
        ).first()
    )


async def session_start(store: Store, account_id: str) -> tuple[dict[str, Any], bool]:
    """The account's running session, or a new one. Returns `(row, created)`."""
    async with store._begin() as conn:
        row = await _session_row(conn, account_id)
        if row and row["status"] == "running":
            return row, False
        row = {
            "id": new_id("sess"),
            "account_id": account_id,
            "status": "running",
            "created_at": now(),
            "stopped_at": None,
        }
        await conn.execute(sa.insert(t.sessions).values(**row))
        return row, True


async def session_latest(store: Store, account_id: str) -> dict[str, Any] | None:
    """The account's latest session, if any."""
    async with store._begin() as conn:
        return await _session_row(conn, account_id)


async def session_stop(store: Store, account_id: str) -> dict[str, Any] | None:
    """Stop the account's running session; returns it, or `None` when none runs."""
    async with store._begin() as conn:
        row = await _session_row(conn, account_id)
        if not row or row["status"] != "running":
            return None
        await conn.execute(
            sa.update(t.sessions)
            .where(t.sessions.c.id == row["id"])
            .values(status="stopped", stopped_at=now())
        )
        return {**row, "status": "stopped"}


async def active_apps(store: Store) -> list[dict[str, Any]]:
    """Apps whose status is `active` (the scheduler fires only their schedules)."""
    async with store._begin() as conn:
        rows = (await conn.execute(sa.select(t.apps).where(t.apps.c.status == "active"))).all()
    return [dict(r._mapping) for r in rows]


async def record_firing(
    store: Store, app_id: str, schedule_key: str, fire_time: datetime, run: dict[str, Any]
) -> bool:
    """Record a schedule firing and queue its run in one transaction; `False` if that firing exists."""
    values = {
        "result": None,
        "error": None,
        "callback": None,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "trace": [],
        "created_at": now(),
        **run,
    }
    try:
        async with store._begin() as conn:
            await conn.execute(
                sa.insert(t.schedule_firings).values(
                    app_id=app_id,
                    schedule_key=schedule_key,
                    fire_time=fire_time,
                    run_id=run["run_id"],
                    created_at=now(),
                )
            )
            await conn.execute(sa.insert(t.runs).values(**values))
    except IntegrityError:
        return False
    return True
