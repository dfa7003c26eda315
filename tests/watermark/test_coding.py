"""Payload coding: CRC + convolutional code, soft list Viterbi."""

from __future__ import annotations

import numpy as np
import pytest

from vidprov.errors import WatermarkError
from vidprov.watermark.coding import CODED_BITS, decode, encode, parse_payload


def test_round_trip_with_noise() -> None:
    payload = bytes.fromhex("0123456789abcdef")
    coded = encode(payload).astype(float) * 2 - 1
    assert coded.shape == (CODED_BITS,)
    rng = np.random.default_rng(0)
    ok = sum(decode(coded + rng.normal(0, 0.6, coded.shape)) == payload for _ in range(50))
    assert ok == 50


def test_list_decoding_reads_payloads_single_path_viterbi_loses() -> None:
    payload = bytes.fromhex("a5c3f00d12345678")
    coded = encode(payload).astype(float) * 2 - 1
    rng = np.random.default_rng(2)
    noisy = [1.0 * coded + rng.normal(0, 1, coded.shape) for _ in range(60)]
    single = [decode(s, list_size=1) for s in noisy]
    listed = [decode(s) for s in noisy]
    # every single-path read is also the list's first pick
    assert all(a == b for a, b in zip(single, listed, strict=True) if a is not None)
    assert sum(p == payload for p in listed) >= sum(p == payload for p in single) + 10
    assert all(p in (None, payload) for p in listed)


def test_random_soft_input_rarely_passes_crc() -> None:
    rng = np.random.default_rng(1)
    assert sum(decode(rng.normal(0, 1, CODED_BITS)) is not None for _ in range(300)) == 0


@pytest.mark.parametrize(
    "bad", ["xyz", "a5c3f00d1234567", "a5c3f00d123456789a", "", "0x12", 5, None]
)
def test_bad_payloads(bad: object) -> None:
    with pytest.raises(WatermarkError, match="payload"):
        parse_payload(bad)


def test_payload_forms() -> None:
    assert parse_payload("0xA5C3F00D12345678") == bytes.fromhex("a5c3f00d12345678")
    assert parse_payload(bytes(8)) == bytes(8)
