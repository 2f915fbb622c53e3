"""Mapping files: where a sender's payload meets the vendor-neutral model."""

from bridge.mapping.config import Config, load_config
from bridge.mapping.errors import MappingError, MappingIssue

__all__ = ["Config", "MappingError", "MappingIssue", "load_config"]
