"""The hashes computed in pieces (to keep the GIL) equal the one-shot hashes, at every size."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bridge.sources import signing

SIZES = [0, 1, signing.GIL_HELD_CHUNK - 1, signing.GIL_HELD_CHUNK, signing.GIL_HELD_CHUNK + 1]
SIZES += [2 * signing.GIL_HELD_CHUNK, 2048, 4096, 100_003]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_hmac_in_pieces_is_the_hmac_of_the_whole(size: int, algorithm: signing.Algorithm) -> None:
    message = bytes(range(256)) * (size // 256) + bytes(size % 256)
    key = b"whsec_pieces"
    assert signing.digest(algorithm, key, message) == hmac.digest(key, message, algorithm)


@pytest.mark.parametrize("size", SIZES)
def test_sha256_in_pieces_is_the_sha256_of_the_whole(size: int) -> None:
    data = b"x" * size
    assert signing.sha256(data) == hashlib.sha256(data).digest()
    assert signing.body_digest(data) == "sha256:" + hashlib.sha256(data).hexdigest()
