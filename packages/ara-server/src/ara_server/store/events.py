"""Events, idempotent per (app, idempotency key)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import Store
from . import schema as t
from ._common import now, row_dict
from .runs import new_run_values
from .writer import bulk_rows

__all__ = ["event_log_message", "record_event", "write_event"]

_DIGEST_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # built once, not per event
_INSERT_EVENT = sa.insert(t.events)
_INSERT_LOG = sa.insert(t.logs)
_INSERT_RUNS = sa.insert(t.runs)


def event_log_message(body: dict[str, Any]) -> str:
    """The `event.received` log line of an event: `<event_type>: <message, first 200 characters>`."""
    return f"{str(body.get('event_type') or '').strip()}: {str(body.get('message') or '')[:200]}"


def write_event(
    conn: sa.Connection,
    app_id: str,
    key: str | None,
    digest: str,
    body: dict[str, Any],
    response: dict[str, Any],
    runs: Sequence[dict[str, Any]],
    log_message: str | None,
) -> tuple[dict[str, Any], str]:
    """The transaction function of one event (see `record_event`): the event row, its log line and
    its runs, or nothing when the key was used already. Reads only when the key is taken."""
    created = now()
    row = {
        "id": response["event_id"],
        "app_id": app_id,
        "idempotency_key": key,
        "body_hash": digest,
        "body": body,
        "response": response,
        "created_at": created,
    }
    if key:
        try:
            with conn.begin_nested():
                conn.execute(_INSERT_EVENT, row)
        except IntegrityError:
            existing = row_dict(
                conn.execute(
                    sa.select(t.events.c.body_hash, t.events.c.response).where(
                        t.events.c.app_id == app_id, t.events.c.idempotency_key == key
                    )
                ).first()
            )
            if existing is None:  # not the key: the event id itself collided
                raise
            return existing["response"], ("replay" if existing["body_hash"] == digest else "conflict")
        _insert_log(conn, app_id, log_message, created)
    elif conn.dialect.name == "sqlite":  # the hot path: the writer thread's own connection
        _sqlite_insert(conn, row, app_id, log_message)
    else:
        conn.execute(_INSERT_EVENT, row)
        _insert_log(conn, app_id, log_message, created)
    if runs:
        conn.execute(_INSERT_RUNS, [new_run_values({"created_at": created, **r}) for r in runs])
    return response, "new"


def _insert_log(conn: sa.Connection, app_id: str, log_message: str | None, created: Any) -> None:
    if log_message is not None:
        conn.execute(
            _INSERT_LOG,
            {
                "app_id": app_id,
                "run_id": None,
                "level": "info",
                "event_type": "event.received",
                "message": log_message,
                "created_at": created,
            },
        )


_EVENT_HEAD = "INSERT INTO events (id, app_id, idempotency_key, body_hash, body, response, created_at)"
_EVENT_VALUES = "(?, ?, ?, ?, ?, ?, ?)"
_LOG_HEAD = "INSERT INTO logs (app_id, run_id, level, event_type, message, created_at)"
_LOG_VALUES = "(?, NULL, 'info', 'event.received', ?, ?)"
_SQLITE_EVENT = f"{_EVENT_HEAD} VALUES {_EVENT_VALUES}"
_SQLITE_LOG = f"{_LOG_HEAD} VALUES {_LOG_VALUES}"
_JSON = msgspec.json.Encoder()


def _sqlite_insert(conn: sa.Connection, row: dict[str, Any], app_id: str, log_message: str | None) -> None:
    """The event row and its log line through the driver's cursor, in the connection's transaction
    (or, in a batch of the group-commit writer, with the batch's other rows: `bulk_rows`).

    Stored as a Core insert stores them on SQLite (JSON text; `created_at` as SQLAlchemy's
    `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC), without SQLAlchemy's statement machinery: the JSON is
    encoded by msgspec (compact, UTF-8), the time with one `isoformat`.
    """
    # `now()` is aware UTC; SQLAlchemy's SQLite DATETIME drops the offset and keeps microseconds
    created = row["created_at"].isoformat(" ", "microseconds")[:26]
    values = (
        row["id"],
        app_id,
        row["idempotency_key"],
        row["body_hash"],
        _JSON.encode(row["body"]).decode(),
        _JSON.encode(row["response"]).decode(),
        created,
    )
    bulk = bulk_rows(conn)
    if bulk is not None:
        bulk.add(_EVENT_HEAD, _EVENT_VALUES, values)
        if log_message is not None:
            bulk.add(_LOG_HEAD, _LOG_VALUES, (app_id, log_message, created))
        return
    cursor = conn.connection.driver_connection.cursor()  # pyright: ignore[reportOptionalMemberAccess]
    try:
        cursor.execute(_SQLITE_EVENT, values)
        if log_message is not None:
            cursor.execute(_SQLITE_LOG, (app_id, log_message, created))
    except sqlite3.IntegrityError as exc:  # the error a Core insert raises
        raise IntegrityError(_SQLITE_EVENT, values, exc) from exc
    finally:
        cursor.close()


async def record_event(
    store: Store,
    app_id: str,
    key: str | None,
    body: dict[str, Any],
    response: dict[str, Any],
    runs: Sequence[dict[str, Any]] = (),
    *,
    log_message: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Store an event, its `event.received` log line and the runs it starts as one unit (a crash
    never keeps one without the others; a replay never lists runs that do not exist), durably: it
    returns once the commit is on disk (`Store.write`: on SQLite one fsync per batch of events).

    Args:
        store: The store.
        app_id: The app.
        key: The idempotency key, or `None`.
        body: The event body.
        response: The response to store (and replay); `response["event_id"]` is the event's id.
        runs: The runs rows to insert with it (see `runs.new_run_values`); not inserted on a
            replay or conflict.
        log_message: The log line to add with a new event (`event_log_message(body)`); `None`
            for none.

    Returns:
        `(response, outcome)`: outcome `new`; `replay` (same key and body: the stored response);
        or `conflict` (same key, another body).

    Raises:
        sqlalchemy.exc.IntegrityError: A run id or run idempotency key is taken, or the app does
            not exist (nothing was written).
    """
    # the digest only tells a replay from a conflict: an event without an idempotency key has none
    digest = hashlib.sha256(_DIGEST_JSON.encode(body).encode()).hexdigest() if key else ""
    return await store.write(write_event, app_id, key, digest, body, response, list(runs), log_message)
