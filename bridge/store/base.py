"""The durable outbox's records and its four roles, so SQLite and PostgreSQL are interchangeable.

`Outbox` (ingest, claim, record, release) is the hot path; `Ledger` the reads a person makes;
`Maintenance` what an operator changes; `Lifecycle` opening and closing. `Store` is all four
and the identity ledger's `Identities` (`identities.py`), and each caller is typed to the one
it uses.

Times are integer unix milliseconds, passed in by the caller (tests control the clock).
Every method is a coroutine and never blocks the event loop; `ingest` commits durably before it
returns, so its caller may acknowledge the sender.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bridge.store.identities import Identities, Link

EventOutcome = Literal["accepted", "ignored", "unmapped", "duplicate", "waiting_identity"]
PlannedOutcome = Literal["accepted", "ignored", "unmapped", "waiting_identity"]
"""What the rules make of an event (`duplicate` is the store's to say)."""
DeliveryStatus = Literal["pending", "delivered", "dead"]


class StoreUnavailable(Exception):
    """The store could not commit: the sender must be told to retry (503), never 200."""


class StoreRefused(Exception):
    """The store cannot keep this data (no column can hold a value of it): retrying cannot
    help, so it is answered as bad input, never as an outage."""


# Slotted, not frozen: frozen sets each field via object.__setattr__ (docs/benchmarks.md, levers)
@dataclass(slots=True)
class NewDelivery:
    destination: str
    rule: str
    dedupe_key: str
    conversion: bytes
    """The conversion as JSON (`Conversion.to_dict`)."""
    expires_at: int
    """After this moment the delivery is given up (`dead`), per the destination's max age."""


@dataclass(slots=True)
class NewEvent:
    source: str
    event_id: str
    type: str
    received_at: int
    outcome: PlannedOutcome
    detail: bytes
    """JSON: per-rule results and a one-line reason."""
    raw: bytes
    deliveries: tuple[NewDelivery, ...] = ()
    links: tuple[Link, ...] = ()
    """Keys this event ties to the identity it used (`identity: link:`), written in the same
    commit as the event unless the event was received already."""


@dataclass(slots=True)
class Stored:
    """What the store made of one `NewEvent`."""

    outcome: EventOutcome
    new_deliveries: int
    duplicate_of: str | None = None
    """For a repeated conversion: the sender event id that first recorded it."""


@dataclass(slots=True)
class ClaimedDelivery:
    id: int
    destination: str
    conversion: bytes
    attempts: int
    created_at: int
    expires_at: int
    source: str
    event_id: str
    """The sender event the delivery came from, for the lines a person reads about it."""


AttemptOutcome = Literal["delivered", "not_credited", "unverified", "split", "retry", "dead"]
"""`unverified`: accepted (2xx) with an answer bridge could not read; `split`: a refused batch,
re-sent in halves within the same lease."""

ANSWER_LIMIT = 1000
"""Characters of a vendor's answer (or of an error text) kept with an attempt."""


@dataclass(slots=True)
class AttemptRecord:
    """The result of one attempt; `status` is where the delivery goes next."""

    delivery_id: int
    status: DeliveryStatus
    attempted_at: int
    duration_ms: int
    next_attempt_at: int | None = None
    http_status: int | None = None
    answer: str | None = None
    outcome: AttemptOutcome | None = None
    """What the attempt achieved; defaults from `status` (pending means retry)."""

    @property
    def label(self) -> AttemptOutcome:
        if self.outcome is not None:
            return self.outcome
        return "retry" if self.status == "pending" else self.status

    @property
    def finishes(self) -> bool:
        """False for a split attempt: the delivery stays leased for the halves that follow."""
        return self.outcome != "split"

    @property
    def kept_answer(self) -> str | None:
        """`answer` as the store keeps it: a vendor writes any bytes, and a text column holds
        neither NUL (PostgreSQL refuses it) nor an unpaired surrogate; bounded."""
        answer = self.answer
        if answer is None:
            return None
        if "\x00" in answer or not answer.isascii():
            answer = answer.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
        return answer if len(answer) <= ANSWER_LIMIT else answer[:ANSWER_LIMIT] + "..."


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    source: str
    event_id: str
    rule: str
    destination: str
    status: DeliveryStatus
    attempts: int
    created_at: int
    next_attempt_at: int
    finished_at: int | None
    last_status: int | None
    last_answer: str | None


@dataclass(frozen=True, slots=True)
class EventView:
    source: str
    event_id: str
    type: str
    received_at: int
    outcome: EventOutcome
    reason: str | None
    payload_kept: bool
    """False once retention erased the raw body (the event can no longer be replayed)."""


@dataclass(frozen=True, slots=True)
class AttemptView:
    delivery_id: int
    attempted_at: int
    duration_ms: int
    http_status: int | None
    outcome: AttemptOutcome
    answer: str | None


@dataclass(frozen=True, slots=True)
class EventTrace:
    """Everything known about one event: what the rules made of it and every delivery attempt."""

    event: EventView
    rules: list[dict[str, str | None]]
    deliveries: list[DeliveryView]
    conversions: dict[int, bytes]
    """Delivery id -> the conversion it carries (JSON)."""
    attempts: list[AttemptView]
    mapping_version: str | None = None
    """The version of the mapping files that judged the event (`Config.version`)."""


@dataclass(frozen=True, slots=True)
class RawEvent:
    source: str
    event_id: str
    type: str
    outcome: EventOutcome
    raw: bytes | None
    received_at: int


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which stored events a listing or a replay covers; unset fields match everything."""

    source: str | None = None
    outcome: EventOutcome | None = None
    since: int | None = None
    until: int | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Pending deliveries of one destination, for metrics and alerts."""

    destination: str
    pending: int
    due: int
    """Pending deliveries whose next attempt time has come."""
    oldest_due_at: int | None
    """When the longest-waiting due delivery became due (unix ms); None when nothing is due."""


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    payloads_cleared: int
    events_deleted: int


class Ingests(Protocol):
    async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
        """Store events and their deliveries in one durable transaction.

        Idempotent on (source, event_id): a repeat is `duplicate` and creates nothing. A delivery
        whose (destination, dedupe_key) exists already is not created again.
        """
        ...


class Outbox(Ingests, Protocol):
    """The hot path: events in, deliveries leased out to workers and their attempts recorded."""

    async def claim(
        self, owner: str, now: int, limit: int, lease_ms: int, destinations: Collection[str]
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due, unleased pending deliveries for `destinations`, each with
        the source and id of its event."""
        ...

    async def record(self, owner: str, attempts: Sequence[AttemptRecord]) -> None:
        """Apply attempt results to deliveries still leased by `owner`, and release them; a
        split attempt (`finishes` False) is recorded and counted, and its delivery stays leased.

        At most one finishing record per delivery in one call, after its split ones. Answers
        are kept as `kept_answer`. Raises `StoreRefused` when the store cannot keep a record's
        data, `StoreUnavailable` when it cannot answer now.
        """
        ...

    async def release(self, owner: str, ids: Collection[int]) -> None:
        """Give leased deliveries back without an attempt (graceful shutdown)."""
        ...


class Ledger(Protocol):
    """What a person reads: events, their traces, deliveries, the queue."""

    async def list_events(self, where: EventFilter, limit: int) -> list[EventView]:
        """Stored events, newest first."""
        ...

    async def event_trace(self, source: str, event_id: str) -> EventTrace | None: ...

    async def list_deliveries(
        self, *, status: DeliveryStatus | None, destination: str | None, limit: int
    ) -> list[DeliveryView]: ...

    async def queue_depth(self, now: int) -> list[QueueDepth]:
        """Pending deliveries per destination (destinations with none are left out)."""
        ...

    async def raw_events(self, where: EventFilter, limit: int) -> list[RawEvent]:
        """Stored raw bodies for replay, oldest first."""
        ...

    async def waiting_events(self, limit: int) -> list[RawEvent]:
        """Events `waiting_identity`, oldest first (a partial index keeps this cheap however
        many events the store holds)."""
        ...


class Maintenance(Protocol):
    """What an operator changes: retries, retention, replays."""

    async def retry_deliveries(
        self,
        *,
        ids: Collection[int] | None,
        status: DeliveryStatus | None,
        destination: str | None,
        now: int,
        expires_at: int,
    ) -> int:
        """Make matching deliveries due now with a fresh max-age window; returns how many."""
        ...

    async def purge(self, *, payloads_before: int, events_before: int) -> PurgeCounts:
        """Drop raw payloads older than one cutoff and finished events older than the other."""
        ...

    async def purge_deliveries(
        self, *, ids: Collection[int] | None, status: DeliveryStatus | None, destination: str | None
    ) -> int:
        """Erase finished deliveries (e.g. dead letters nobody will retry): their conversion,
        answers and attempts. Their identity stays while their event is kept (the dedupe
        retention), so the conversion is never recorded again."""
        ...

    async def replay(self, events: Sequence[NewEvent], *, dry_run: bool = False) -> list[Stored]:
        """Re-record stored events under new mapping results.

        Updates each event's outcome and rule results and adds the deliveries it did not have;
        a conversion already recorded (by this event or another, even if its delivery was
        purged since) is never recorded twice, so replaying twice delivers nothing twice.
        `dry_run` decides exactly as a replay of the same events in order would, and stores
        nothing (the same statements, rolled back).
        """
        ...


class Lifecycle(Protocol):
    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the store answers."""
        ...

    async def schema_version(self) -> int:
        """The applied schema version (opening a store applies pending migrations)."""
        ...

    async def close(self) -> None: ...


class Store(Outbox, Ledger, Maintenance, Lifecycle, Identities, Protocol):
    """A whole store, as `open_store` returns it; each caller takes the one role it uses."""
