"""`Idempotency-Key` on every POST of every service (the IETF httpapi draft's header).

A client that retries a POST after a timeout or a dropped connection sends the same key, and
gets the first answer again (with `Idempotent-Replayed: true`) instead of the command being
carried out twice. The answer is kept per key, per endpoint and per caller (a hash of the
`Authorization` header: one caller cannot read another's answer) for `RETENTION`.

- The key is reserved before the request runs, so two copies racing each other cannot both run:
  the second gets 409 while the first is in flight.
- The same key with another request body is 422: a client bug, never silently replayed.
- A 5xx answer, or a request that raised, is not kept: the retry runs again.
- A reservation left by a process killed mid-request is taken over after `ABANDONED`. One this
  process could not release because the database was away (the request failed with it) is
  released by its next reservation, so a client's retry is not refused for a minute.
- The database away while a key is reserved is a 503 with Retry-After, as any route's.

POSTs without the header are passed through untouched (no database round trip)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lts_events.faults import describe, is_transient
from lts_events.problems import problem, unavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from lts_events.store.postgres import PostgresEventStore

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
RETENTION = timedelta(hours=24)
ABANDONED = timedelta(seconds=60)
MAX_KEY_LENGTH = 255
MAX_KEPT_BODY = 1 << 20
"""Answers larger than this are not kept (command answers are small JSON documents)."""
_NOT_REPLAYED = {b"date", b"set-cookie", b"server"}
_CLEANUP_EVERY = 1_000


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int | None
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Replay:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Refuse:
    status: int
    detail: str


def key_problem(key: str) -> str | None:
    """Why a key is unusable, or None: 1-255 visible ASCII characters."""
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        return f"must be 1 to {MAX_KEY_LENGTH} characters"
    if not all(" " <= char <= "~" for char in key):
        return "must be visible ASCII characters"
    return None


def decide(stored: Stored, fingerprint: str) -> Replay | Refuse:
    """What a request whose key is already taken gets."""
    if stored.fingerprint != fingerprint:
        return Refuse(422, "this Idempotency-Key was used for another request; use a new key")
    if stored.status is None:
        return Refuse(409, "a request with this Idempotency-Key is in progress; retry later")
    return Replay(stored.status, [*stored.headers, (b"idempotent-replayed", b"true")], stored.body)


def _digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(len(part).to_bytes(8, "big"))
        hashed.update(part)
    return hashed.hexdigest()


def _precondition(scope: Scope) -> tuple[bytes, ...]:
    """The request's `If-Match`, part of what the key stands for: a 412 is kept like any
    answer, so a resend naming the version read since is another request (422 under the same
    key), not a replay of the 412. Absent, nothing: fingerprints kept before stay valid."""
    if_match = _header(scope, b"if-match")
    return () if if_match is None else (b"if-match", if_match)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class IdempotencyKeys:
    """ASGI middleware keeping POST answers by `Idempotency-Key` in the service's schema."""

    def __init__(self, app: ASGIApp, *, store_of: Callable[[], PostgresEventStore | None]) -> None:
        self._app = app
        self._store_of = store_of
        self._reservations = 0
        # (scope, key) -> created_at of reservations whose release failed: released with the
        # next reservation (only that reservation: a takeover since has another created_at)
        self._unreleased: dict[tuple[str, str], datetime] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = _header(scope, HEADER) if scope["type"] == "http" else None
        store = self._store_of() if raw_key is not None and scope["method"] == "POST" else None
        if raw_key is None or store is None:
            await self._app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        unusable = key_problem(key)
        if unusable is not None:
            refusal = Refuse(400, f"header Idempotency-Key: {unusable}")
            await _send_problem(scope, receive, send, refusal)
            return
        body = await _read_body(receive)
        caller = _digest(
            scope["method"].encode(),
            scope["path"].encode(),
            scope.get("query_string", b""),
            _header(scope, b"authorization") or b"",
        )
        fingerprint = _digest(_header(scope, b"content-type") or b"", body, *_precondition(scope))
        table = f'"{store.schema}".idempotency_keys'
        try:
            answer = await self._reserve(store, table, caller, key, fingerprint)
        except Exception as error:  # outside the app: its 503 handler is not called for this
            if not is_transient(error):
                raise
            log.warning("idempotency key not reserved: %s", describe(error))
            await unavailable(describe(error))(scope, receive, send)
            return
        if isinstance(answer, Replay):
            await _send_replay(send, answer)
        elif isinstance(answer, Refuse):
            await _send_problem(scope, receive, send, answer)
        else:
            reservation = (caller, key, answer)
            await self._run(scope, _replaying(body, receive), send, store, table, reservation)

    async def _reserve(
        self, store: PostgresEventStore, table: str, caller: str, key: str, fingerprint: str
    ) -> Replay | Refuse | datetime:
        """The reservation's time when this request may run (the key is now reserved for it)."""
        self._reservations += 1
        releasing = dict(self._unreleased)
        async with store.transaction() as db:
            if releasing:
                await db.execute(
                    f"DELETE FROM {table} AS t USING unnest($1::text[], $2::text[], "
                    "$3::timestamptz[]) AS u (scope, key, created_at) WHERE t.scope = u.scope "
                    "AND t.key = u.key AND t.created_at = u.created_at AND t.status IS NULL",
                    [scope for scope, _ in releasing],
                    [key for _, key in releasing],
                    list(releasing.values()),
                )
            if self._reservations % _CLEANUP_EVERY == 0:
                await db.execute(
                    f"DELETE FROM {table} WHERE created_at < now() - $1::interval", RETENTION
                )
            reserved = await db.fetchval(
                f"INSERT INTO {table} AS t (scope, key, fingerprint) VALUES ($1, $2, $3) "
                "ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
                "created_at = now(), status = NULL, headers = NULL, body = NULL "
                "WHERE t.created_at < now() - $4::interval OR (t.status IS NULL "
                "AND t.fingerprint = EXCLUDED.fingerprint AND t.created_at < now() - $5::interval) "
                "RETURNING created_at",
                caller,
                key,
                fingerprint,
                RETENTION,
                ABANDONED,
            )
            row = None
            if reserved is None:
                row = await db.fetchrow(
                    f"SELECT fingerprint, status, headers, body FROM {table} "
                    "WHERE scope = $1 AND key = $2",
                    caller,
                    key,
                )
        for released, created_at in releasing.items():
            if self._unreleased.get(released) == created_at:  # not failed again meanwhile
                del self._unreleased[released]
        if reserved is not None:
            assert isinstance(reserved, datetime)
            return reserved
        if row is None:  # expired and deleted between the two statements
            return Refuse(409, "a request with this Idempotency-Key is in progress; retry later")
        headers = json.loads(row["headers"]) if row["headers"] else []
        stored = Stored(
            fingerprint=row["fingerprint"],
            status=row["status"],
            headers=[(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers],
            body=bytes(row["body"] or b""),
        )
        return decide(stored, fingerprint)

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: PostgresEventStore,
        table: str,
        reservation: tuple[str, str, datetime],
    ) -> None:
        caller, key, _ = reservation
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self._app(scope, receive, keep)
        except BaseException:
            await self._forget(store, table, reservation)
            raise
        body = b"".join(chunks)
        if status >= 500 or len(body) > MAX_KEPT_BODY:
            await self._forget(store, table, reservation)
            return
        kept = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in headers
            if name.lower() not in _NOT_REPLAYED
        ]
        async with store.transaction() as db:
            await db.execute(
                f"UPDATE {table} SET status = $3, headers = $4::jsonb, body = $5 "
                "WHERE scope = $1 AND key = $2",
                caller,
                key,
                status,
                json.dumps(kept),
                body,
            )

    async def _forget(
        self, store: PostgresEventStore, table: str, reservation: tuple[str, str, datetime]
    ) -> None:
        caller, key, created_at = reservation
        try:
            async with store.transaction() as db:
                await db.execute(
                    f"DELETE FROM {table} WHERE scope = $1 AND key = $2 AND created_at = $3",
                    caller,
                    key,
                    created_at,
                )
        except Exception as error:  # the database is away: released with the next reservation
            self._unreleased[(caller, key)] = created_at
            log.warning("an idempotency reservation is released later: %s", describe(error))


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The request's body, read once already, handed to the app as if unread."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_replay(send: Send, replay: Replay) -> None:
    await send({"type": "http.response.start", "status": replay.status, "headers": replay.headers})
    await send({"type": "http.response.body", "body": replay.body})


async def _send_problem(scope: Scope, receive: Receive, send: Send, refusal: Refuse) -> None:
    headers = {"Retry-After": "1"} if refusal.status == 409 else None
    await problem(refusal.status, refusal.detail, headers=headers)(scope, receive, send)
