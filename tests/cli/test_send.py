"""`bridge send SOURCE FILE`: a payload file signed as its sender signs, posted to a real
`bridge serve` on 127.0.0.1, the answer printed; every bad input is one `error:` line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.cli import main
from tests.cli.test_file_arguments import error_lines  # a missing file: tested there
from tests.support.process import BridgeProcess, free_port
from tests.support.senders import SECRET, SENDERS, shipped_mappings
from tests.support.stripe import REPO

STRIPE_SAMPLE = str(REPO / "mappings/samples/stripe/checkout.session.completed.json")

TYPED_BY_HEADER = """
sources:
  typed:                           # a generic hmac sender that names its event in a header
    kind: hmac
    secret: ${SHOP_WEBHOOK_SECRET}
    header: X-Signature
    event_type: {header: X-Event-Name}
"""


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """One server for every sender: the shipped mappings, each secret set, no delivery."""
    workdir = tmp_path_factory.mktemp("send")
    secrets = shipped_mappings(workdir / "mappings")
    (workdir / "mappings" / "typed.yaml").write_text(TYPED_BY_HEADER)
    process = BridgeProcess(workdir, {**secrets, "BRIDGE_MAPPINGS_DIR": str(workdir / "mappings")})
    process.start("--no-worker")
    yield process
    process.stop()


def _payload(bridge: BridgeProcess, kind: str) -> Path:
    path = bridge.workdir / f"{kind}-{SENDERS[kind].samples[0]}"
    path.write_bytes(SENDERS[kind].sample())
    return path


@pytest.mark.parametrize("kind", sorted(SENDERS))
def test_each_sender_posts_a_signed_sample_that_bridge_accepts(
    bridge: BridgeProcess, kind: str
) -> None:
    source = SENDERS[kind].source
    sent = bridge.cli("send", source, str(_payload(bridge, kind)))
    lines = sent.stdout.splitlines()
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert lines[0] == f"POST {bridge.url}/webhooks/{source}"
    assert lines[1] == "200 OK"
    answer = "\n".join(lines[2:])
    if kind == "salesforce":
        assert "<Ack>true</Ack>" in answer
    else:  # verified and stored: HubSpot's sample holds events no shipped rule maps
        assert '"status":"accepted"' in answer or '"status":"ignored"' in answer
    assert SECRET not in sent.stdout + sent.stderr


def test_stripe_sent_twice_is_a_duplicate_and_url_names_the_target(bridge: BridgeProcess) -> None:
    url = f"{bridge.url}/webhooks/stripe"
    first = bridge.cli("send", "stripe", STRIPE_SAMPLE, "--url", url)
    again = bridge.cli("send", "stripe", STRIPE_SAMPLE, "--url", url)
    assert first.returncode == 0
    assert first.stdout.splitlines()[0] == f"POST {url}"
    assert again.returncode == 0
    assert again.stdout.splitlines()[1:] == [
        "200 OK",
        '{"status":"duplicate","event_id":"evt_1SAbCdEfGhIjKlMn0001",'
        '"reason":"event already received"}',
    ]


def test_a_refusal_is_printed_and_exits_1(bridge: BridgeProcess) -> None:
    wrong = {**bridge.env, "STRIPE_WEBHOOK_SECRET": "whsec_not_the_one"}
    bridge.env, saved = wrong, bridge.env
    try:
        refused = bridge.cli("send", "stripe", STRIPE_SAMPLE)
    finally:
        bridge.env = saved
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[1] == "401 Unauthorized"
    assert "whsec_not_the_one" not in refused.stdout


def test_an_unknown_source_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "strpe", STRIPE_SAMPLE]) == 1
    assert error_lines(capsys) == ["error: unknown source 'strpe' (known: stripe)"]


def test_an_unset_secret_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    assert main(["send", "stripe", STRIPE_SAMPLE]) == 1
    assert error_lines(capsys) == [
        "error: cannot sign for source 'stripe': STRIPE_WEBHOOK_SECRET is not set"
    ]


def test_a_refused_connection_names_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("BRIDGE_HOST", "0.0.0.0")  # noqa: S104  (what serve listens on)
    monkeypatch.setenv("BRIDGE_PORT", str(port))
    assert main(["send", "stripe", STRIPE_SAMPLE]) == 1
    assert error_lines(capsys) == [
        f"error: cannot connect to http://127.0.0.1:{port}/webhooks/stripe: connection refused"
        " (is `bridge serve` running?)"
    ]


def test_a_header_option_without_a_colon_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "stripe", STRIPE_SAMPLE, "--header", "X-Type"]) == 1
    assert error_lines(capsys) == ["error: --header takes 'NAME: VALUE'"]


def test_a_type_read_from_a_header_is_given_with_header(bridge: BridgeProcess) -> None:
    payload = bridge.workdir / "typed.json"
    payload.write_bytes(b'{"id": "o-1"}')
    untyped = bridge.cli("send", "typed", str(payload))
    typed = bridge.cli("send", "typed", str(payload), "--header", "X-Event-Name: order.completed")
    assert untyped.returncode == 1
    assert untyped.stdout.splitlines()[1:] == [
        "400 Bad Request",
        '{"error":"missing X-Event-Name header (the event type)"}',
    ]
    assert typed.returncode == 0
    assert typed.stdout.splitlines()[1] == "200 OK"
    assert '"event_id":"sha256:' in typed.stdout


def test_the_payload_can_come_from_stdin(bridge: BridgeProcess) -> None:
    sent = subprocess.run(
        [sys.executable, "-m", "bridge", "send", "stripe", "-"],
        input=(REPO / STRIPE_SAMPLE).read_bytes(),
        env=bridge.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0
    assert sent.stdout.decode().splitlines()[1] == "200 OK"
