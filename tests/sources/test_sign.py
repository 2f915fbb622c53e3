"""Every sender kind is signed by bridge itself (`Source.sign`, used by `bridge send`): a request
made by a source's `sign` passes that source's own `verify`, and the same signature over another
body does not. tests/sources/test_checklist.py fails for a kind registered without `sign`."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bridge.mapping.config import load_config
from bridge.sources import SOURCE_KINDS, InboundRequest, Source, SourceError, VerificationFailed
from tests.support.senders import SENDERS, every_sender_settings

KINDS = sorted(SOURCE_KINDS)
URL = "http://127.0.0.1:8080/webhooks/"


def _source(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Source:
    settings = every_sender_settings(tmp_path, monkeypatch)
    return load_config(settings.mappings_dir).sources[SENDERS[kind].source]


def _request(source: Source, body: bytes, url: str) -> InboundRequest:
    signed = source.sign(body, url, time.time())
    target = f"{url}?{urlencode(signed.query)}" if signed.query else url
    headers = {name.lower(): value for name, value in signed.headers.items()}
    return InboundRequest("POST", target, headers, body)


@pytest.mark.parametrize("kind", KINDS)
def test_a_request_it_signs_passes_its_own_verify(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(kind, tmp_path, monkeypatch)
    body = SENDERS[kind].sample()
    url = URL + source.name
    assert source.verify(_request(source, body, url))


@pytest.mark.parametrize("kind", sorted(k for k in SOURCE_KINDS if k not in ("salesforce",)))
def test_a_signed_request_with_another_body_is_refused(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(kind, tmp_path, monkeypatch)
    body = SENDERS[kind].sample()
    request = _request(source, body, URL + source.name)
    if kind in ("pipedrive", "chargebee"):  # Basic credentials sign no body: another password
        headers = {**request.headers, "authorization": "Basic b3RoZXI6b3RoZXI="}
        request = InboundRequest("POST", request.url, headers, body)
    else:
        request.body = body.replace(b"}", b" }", 1)
    with pytest.raises(VerificationFailed):
        source.verify(request)


def test_an_unset_secret_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = every_sender_settings(tmp_path, monkeypatch)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    source = load_config(settings.mappings_dir).sources[SENDERS["stripe"].source]
    with pytest.raises(SourceError, match=r"^STRIPE_WEBHOOK_SECRET is not set$"):
        source.sign(b"{}", URL + "stripe", time.time())


HMAC_LAYOUTS = {
    "calendly": "header: Calendly-Webhook-Signature\n    signature_key: v1\n    timestamp_key: t\n"
    '    signed: "{timestamp}.{body}"\n    event_type: event\n',
    "milliseconds": "header: X-Sig\n    encoding: base64\n    timestamp_header: X-Time\n"
    '    timestamp_unit: milliseconds\n    signed: "{timestamp}:{body}"\n    event_type: event\n',
    "id-header": "header: X-Sig\n    algorithm: sha512\n    event_id: {header: X-Id}\n"
    "    event_type: {const: order.completed}\n",
}


@pytest.mark.parametrize("layout", sorted(HMAC_LAYOUTS))
def test_generic_hmac_signs_every_layout_its_options_describe(
    layout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop.yaml").write_text(
        "sources:\n  shop:\n    kind: hmac\n    secret: ${SHOP_SECRET}\n    " + HMAC_LAYOUTS[layout]
    )
    monkeypatch.setenv("SHOP_SECRET", "s3cret")
    source = load_config(tmp_path).sources["shop"]
    body = b'{"id": "o-1", "event": "order.completed"}'
    [event] = source.verify(_request(source, body, URL + "shop"))
    assert event.type == "order.completed"
