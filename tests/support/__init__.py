"""Shared test helpers: real signatures, a loopback vendor, a real bridge process."""
