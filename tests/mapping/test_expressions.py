import pytest

from bridge.mapping.entries import compile_entries
from bridge.mapping.expressions import (
    EvaluationError,
    ExpressionError,
    JmesExpression,
    PathExpression,
    compile_expression,
)
from bridge.mapping.fields import compile_entry
from bridge.vocabulary.money import Money

PAYLOAD = {
    "type": "checkout.session.completed",
    "data": {
        "object": {
            "metadata": {"pagent-session": "s_1", "plan": "pro"},
            "lines": {"data": [{"price": "price_1"}, {"price": "price_2"}]},
            "amount_total": 2499,
            "currency": "usd",
            "payment_status": "paid",
        }
    },
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("type", "checkout.session.completed"),
        ("data.object.metadata.plan", "pro"),
        ("data.object.metadata.pagent-session", "s_1"),  # hyphen: JMESPath alone would reject it
        ("data.object.lines.data.1.price", "price_2"),  # list index in a dotted path
        ("data.object.lines.data.7.price", None),
        ("data.object.nothing.here", None),
    ],
)
def test_plain_dotted_paths_work_as_written(text: str, value: object) -> None:
    expression = compile_expression(text)
    assert isinstance(expression, PathExpression)
    assert expression.search(PAYLOAD) == value


@pytest.mark.parametrize("key", ["²", "①"])
def test_a_segment_of_other_digits_is_a_key_not_an_index(key: str) -> None:
    """Python calls them digits but cannot read them as a number: a key, never a crash."""
    entries = {"session_id": compile_entry(f"lines.{key}")}
    for payload, found in (({"lines": {key: "s_1"}}, "s_1"), ({"lines": ["s_1"]}, None)):
        assert entries["session_id"].search(payload) == found
        assert compile_entries(entries, frozenset())(payload)[0].get("session_id") == found


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("data.object.payment_status == 'paid'", True),
        ("data.object.metadata.missing || data.object.metadata.plan", "pro"),
        ("data.object.lines.data[*].price", ["price_1", "price_2"]),
        ("length(data.object.lines.data)", 2),
        ("'constant'", "constant"),
        ("stripe_money(data.object.amount_total, data.object.currency)", Money(2499, "USD")),
    ],
)
def test_jmespath_expressions_with_bridge_functions(text: str, value: object) -> None:
    expression = compile_expression(text)
    assert isinstance(expression, JmesExpression)
    assert expression.search(PAYLOAD) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("data.object ==", "not a valid expression"),
        ("nosuch(data)", r"unknown function nosuch\(\)"),
        ("money(data.object.amount_total)", r"money\(\) takes 2 arguments, got 1"),
        ("money(data.object.amount_total, 'xyz')", "unknown currency 'XYZ'"),
        ("money_major(data.object.amount_total, 'XAU')", "no minor unit"),
    ],
)
def test_mistakes_are_caught_when_mappings_load(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(text)


def test_a_type_error_on_one_payload_is_an_evaluation_error() -> None:
    expression = compile_expression("length(data.object.amount_total)")
    with pytest.raises(EvaluationError, match="length"):
        expression.search(PAYLOAD)


def test_a_bad_currency_in_the_payload_is_an_evaluation_error() -> None:
    expression = compile_expression("stripe_money(data.object.amount_total, data.object.currency)")
    payload = {"data": {"object": {"amount_total": 100, "currency": "zzz"}}}
    with pytest.raises(EvaluationError, match="unknown currency 'ZZZ'"):
        expression.search(payload)


def test_evaluation_errors_never_quote_payload_values() -> None:
    expression = compile_expression("length(customer.email_verified)")
    with pytest.raises(EvaluationError) as failure:
        expression.search({"customer": {"email_verified": 1, "email": "jane@example.com"}})
    assert str(failure.value) == "length() expected string, array, object, got number"
