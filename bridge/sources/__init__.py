"""Senders: one module per signature scheme. Adding one is a module plus a line here."""

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
    StripeSource.kind: StripeSource,
    HubSpotSource.kind: HubSpotSource,
    ShopifySource.kind: ShopifySource,
    WooCommerceSource.kind: WooCommerceSource,
    SalesforceSource.kind: SalesforceSource,
    CloseSource.kind: CloseSource,
    PipedriveSource.kind: PipedriveSource,
    ChargebeeSource.kind: ChargebeeSource,
    LemonSqueezySource.kind: LemonSqueezySource,
    PaddleSource.kind: PaddleSource,
    StandardWebhooksSource.kind: StandardWebhooksSource,
    HmacSource.kind: HmacSource,
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
