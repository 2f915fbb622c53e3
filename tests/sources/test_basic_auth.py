"""The HTTP Basic family (`BasicAuthSource`): each kind challenges a refused request in its own
realm, the way a sender's settings page shows the failure."""

from __future__ import annotations

import base64

import pytest

from bridge.mapping import Config, load_config
from bridge.sources import SOURCE_KINDS, InboundRequest, VerificationFailed
from bridge.sources.basic_auth import BasicAuthSource
from tests.support.senders import SENDERS, shipped_mappings

BASIC_KINDS = sorted(k for k, kind in SOURCE_KINDS.items() if issubclass(kind, BasicAuthSource))


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    folder = tmp_path_factory.mktemp("basic") / "mappings"
    return load_config(folder, shipped_mappings(folder))


def test_pipedrive_and_chargebee_authenticate_with_basic_credentials() -> None:
    assert BASIC_KINDS == ["chargebee", "pipedrive"]


@pytest.mark.parametrize("kind", BASIC_KINDS)
def test_wrong_credentials_are_refused_and_challenged_in_the_kinds_realm(
    config: Config, kind: str
) -> None:
    sender = SENDERS[kind]
    source = config.sources[sender.source]
    wrong = "Basic " + base64.b64encode(b"someone:guessed").decode()
    request = InboundRequest("POST", "http://b/webhooks/x", {"authorization": wrong}, b"{}")
    with pytest.raises(VerificationFailed, match="do not match"):
        source.verify(request)
    realm = f'Basic realm="bridge {kind}", charset="UTF-8"'
    assert source.challenge() == {"WWW-Authenticate": realm}
