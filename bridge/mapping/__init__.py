"""Mapping files: where a sender's payload meets the vendor-neutral model."""

from bridge.mapping.config import load_config
from bridge.mapping.errors import MappingError, MappingIssue
from bridge.mapping.loaded import Config

__all__ = ["Config", "MappingError", "MappingIssue", "load_config"]
