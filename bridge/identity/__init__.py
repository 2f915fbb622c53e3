"""The identity ledger's public side: a ledger's settings, the beacon a browser posts, and the
per-client rate limit in front of it. The store keeps what it says (bridge/store/identities.py)."""
