"""What the fault tests share: unique conversions, mappings with short timeouts, figures."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from textwrap import dedent
from typing import Any

from tests.support import stripe as s
from tests.support.process import BridgeProcess

FIGURES: list[str] = []
"""One summary line per test, printed at the end of the run (see conftest.py)."""


def report(line: str) -> None:
    FIGURES.append(line)
    print(line)


def conversion_event(tag: str, n: int) -> dict[str, Any]:
    """A paid checkout whose conversion is unique: its own payment and pagent session."""
    metadata = copy.deepcopy(s.sample("checkout.session.completed")["data"]["object"]["metadata"])
    metadata["pagent_session_id"] = session_id(tag, n)
    return s.event(
        "checkout.session.completed",
        event_id=f"evt_{tag}_{n:04d}",
        payment_intent=f"pi_{tag}_{n:04d}",
        metadata=metadata,
    )


def session_id(tag: str, n: int) -> str:
    """The id the vendor counts a conversion by."""
    return f"s_{tag}_{n:04d}"


def fault_mappings(
    directory: Path, *, timeout_seconds: float = 2, max_age_hours: float = 0.05, batch_size: int = 5
) -> Path:
    """The shipped Stripe source and rules, with a pagent destination tuned for fault tests."""
    folder = directory / "mappings"
    folder.mkdir(exist_ok=True)
    for name in ("stripe.yaml", "stripe-to-pagent.yaml"):
        shutil.copy(s.REPO / "mappings" / name, folder / name)
    (folder / "pagent.yaml").write_text(
        dedent(
            f"""
            destinations:
              pagent:
                vendor: pagent
                base_url: ${{PAGENT_BASE_URL}}
                api_key: ${{PAGENT_API_KEY}}
                batch_size: {batch_size}
                timeout_seconds: {timeout_seconds}
                max_age_hours: {max_age_hours}
            """
        )
    )
    return folder


class FaultProcess(BridgeProcess):
    """`bridge serve` as a process whose pid the test can reach (to set its resource limits)."""

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def delivery_states(self) -> dict[str, tuple[str, int]]:
        """event id -> (delivery status, attempts), from the SQLite file."""
        rows = self.rows(
            "SELECT e.event_id, d.status, d.attempts FROM deliveries d"
            " JOIN events e ON e.id = d.event_ref"
        )
        return {event_id: (status, attempts) for event_id, status, attempts in rows}

    def stored_events(self) -> set[str]:
        return {row[0] for row in self.rows("SELECT event_id FROM events")}
