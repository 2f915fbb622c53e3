"""Senders: one module per sender kind. Adding one is a module plus a line here.

Senders that share a scheme share its base: HTTP Basic credentials (`basic_auth`), an HMAC of
the body (`body_hmac`), an HMAC of a timestamp and the body (`timestamped`).
"""

from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    Source,
    SourceError,
    VerificationFailed,
    refuse_control_characters,
)
from bridge.sources.chargebee import ChargebeeSource
from bridge.sources.close import CloseSource
from bridge.sources.hmac import HmacSource
from bridge.sources.hubspot import HubSpotSource
from bridge.sources.lemonsqueezy import LemonSqueezySource
from bridge.sources.paddle import PaddleSource
from bridge.sources.pipedrive import PipedriveSource
from bridge.sources.salesforce import SalesforceSource
from bridge.sources.shopify import ShopifySource
from bridge.sources.standard_webhooks import StandardWebhooksSource
from bridge.sources.stripe import StripeSource
from bridge.sources.woocommerce import WooCommerceSource

SOURCE_KINDS: dict[str, type[Source]] = {
    source.kind: source
    for source in (
        StripeSource,
        HubSpotSource,
        ShopifySource,
        WooCommerceSource,
        SalesforceSource,
        CloseSource,
        PipedriveSource,
        ChargebeeSource,
        LemonSqueezySource,
        PaddleSource,
        StandardWebhooksSource,
        HmacSource,
    )
}

__all__ = [
    "SOURCE_KINDS",
    "InboundRequest",
    "MalformedPayload",
    "Source",
    "SourceError",
    "VerificationFailed",
    "refuse_control_characters",
]
