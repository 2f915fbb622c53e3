"""Mapping text the identity ledger's tests share: one ledger capturing pagent, a checkout rule
that reads it by the reference or the customer, and a checkout-then-renewal pair linked by the
customer."""

from __future__ import annotations

LEDGER = """
ledgers:
  web:
    origins: ["https://shop.example.com"]
    vendors: [pagent]
"""

JOINED = """
rules:
  - name: paid
    source: stripe
    events: [checkout.session.completed]
    destination: pagent
    identity:
      ledger: web
      key: data.object.client_reference_id || data.object.customer
    conversion:
      session_id: data.object.metadata.session_id || identity.pagent.session_id
      user_id: identity.pagent.user_id
      goal_id: {const: purchase}
"""
"""A checkout rule whose ids come from the payload's metadata, else the ledger."""

RENEWALS = """
rules:
  - name: paid
    source: stripe
    events: [checkout.session.completed]
    destination: pagent
    identity:
      ledger: web
      key: data.object.client_reference_id
      link: data.object.customer
    conversion:
      session_id: identity.pagent.session_id
      user_id: identity.pagent.user_id
      goal_id: {const: purchase}
  - name: renewal
    source: stripe
    events: [invoice.paid]
    destination: pagent
    identity:
      ledger: web
      key: data.object.customer
    conversion:
      session_id: identity.pagent.session_id
      user_id: identity.pagent.user_id
      goal_id: {const: renewal}
      transaction_id: data.object.id
"""
"""The first checkout links its customer; a renewal naming only the customer finds the visitor."""
