"""`events show` in words: each reason stated once, where it belongs."""

from __future__ import annotations

from bridge.store.base import EventTrace, EventView
from bridge.use_cases.trace import trace_text

TWO_PROBLEMS = "rule 'paid': session_id is missing (`a` gave nothing); user_id is missing"


def story(outcome: str, reason: str | None, rules: list[dict[str, str | None]]) -> str:
    event = EventView("stripe", "evt_1", "invoice.paid", 0, outcome, reason, True)  # type: ignore[arg-type]
    return trace_text(EventTrace(event, rules, [], {}, []))


def test_a_rule_reason_holding_several_problems_is_stated_once() -> None:
    text = story(
        "unmapped", TWO_PROBLEMS, [{"rule": "paid", "status": "unmapped", "reason": TWO_PROBLEMS}]
    )
    assert text.count("user_id is missing") == 1
    assert "  outcome   unmapped\n" in text
    assert (
        "    paid: unmapped (session_id is missing (`a` gave nothing); user_id is missing)" in text
    )


def test_an_ignored_event_names_each_rule_once() -> None:
    rules: list[dict[str, str | None]] = [
        {"rule": "paid", "status": "ignored", "reason": "`when` was false"},
        {"rule": "refund", "status": "ignored", "reason": "`when` was false"},
    ]
    text = story("ignored", "rule 'paid': `when` was false; rule 'refund': `when` was false", rules)
    assert "  outcome   ignored\n" in text
    assert text.count("`when` was false") == 2


def test_a_reason_no_rule_states_stays_on_the_outcome_line() -> None:
    text = story("ignored", "no rule for 'stripe' events of type 'invoice.paid'", [])
    assert "  outcome   ignored: no rule for 'stripe' events of type 'invoice.paid'\n" in text
