"""Payload coding, kept apart from the signal processing.

64-bit payload + CRC-16 (CCITT) -> rate-1/2 convolutional code (K=7, generators 133/171 octal,
the NASA/CCSDS code) with zero tail -> 172 coded bits. Decoding is soft-decision list Viterbi:
the best paths are offered to the CRC in turn.
"""

from __future__ import annotations

import math

import numpy as np

from vidprov.errors import WatermarkError

PAYLOAD_BITS = 64
CRC_BITS = 16
K = 7
GENERATORS = (0o133, 0o171)
INFO_BITS = PAYLOAD_BITS + CRC_BITS
CODED_BITS = 2 * (INFO_BITS + K - 1)
_STATES = 1 << (K - 1)


def parse_payload(value: str | bytes) -> bytes:
    """A 64-bit payload from 16 hex characters (or 8 bytes).

    Raises:
        WatermarkError: not hex, or not exactly 64 bits.
    """
    if isinstance(value, bytes):
        raw = value
    elif not isinstance(value, str):  # 5 raised AttributeError from .strip()
        raise WatermarkError(f"payload must be 16 hex characters or 8 bytes, got {value!r}")
    else:
        text = value.strip().lower().removeprefix("0x")
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            if all(c in "0123456789abcdef" for c in text):  # an odd number of digits
                raise WatermarkError(
                    f"payload {value!r} has {len(text)} hex characters; it needs "
                    f"{PAYLOAD_BITS // 4}"
                ) from exc
            raise WatermarkError(f"payload {value!r} is not hexadecimal") from exc
    if len(raw) * 8 != PAYLOAD_BITS:
        raise WatermarkError(
            f"payload must be {PAYLOAD_BITS} bits ({PAYLOAD_BITS // 4} hex characters), "
            f"got {len(raw) * 8} bits"
        )
    return raw


def crc16(bits: np.ndarray) -> np.ndarray:
    """CRC-16-CCITT (poly 0x1021, init 0xFFFF) of a bit array, as 16 bits."""
    reg = 0xFFFF
    for b in bits.astype(np.uint8):
        top = ((reg >> 15) & 1) ^ int(b)
        reg = (reg << 1) & 0xFFFF
        if top:
            reg ^= 0x1021
    return np.array([(reg >> (15 - i)) & 1 for i in range(16)], dtype=np.uint8)


def _bits(raw: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


# Trellis tables: for state s (last K-1 bits, newest in the top bit) and input u.
_reg = (np.arange(_STATES)[:, None] | (np.arange(2)[None, :] << (K - 1))).astype(np.int64)
_OUT = np.stack([_parity(_reg & g) for g in GENERATORS], axis=-1)  # (states, 2, 2) bits
_NEXT = _reg >> 1  # next state


def encode(payload: bytes) -> np.ndarray:
    """Coded bits (0/1, length ``CODED_BITS``) for a 64-bit payload."""
    info = _bits(parse_payload(payload))
    info = np.concatenate([info, crc16(info), np.zeros(K - 1, np.uint8)])
    state, out = 0, []
    for u in info:
        out.extend(_OUT[state, u])
        state = int(_NEXT[state, u])
    return np.array(out, dtype=np.uint8)


#: paths the list decoder offers the CRC by default, best first: 32 reads payloads that
#: single-path Viterbi loses at the margin (half-size re-encodes), and costs the CRC check a factor
#: of 32 (:func:`crc_credit`; at most 32 in 2^16 failed decodes could yield a wrong payload)
LIST_SIZE = 32


def crc_credit(list_size: int = LIST_SIZE) -> float:
    """Natural log of the factor a decoded payload divides the p-value by: the CRC-16 passes by
    chance for one path in 2^16, so for one of ``list_size`` paths at most ``list_size`` in
    2^16."""
    return CRC_BITS * math.log(2) - math.log(list_size)


# predecessors of each state and the input bit that leads into it
_NS = np.arange(_STATES)
_INPUT = _NS >> (K - 2)
_PREV = np.stack([((_NS << 1) & (_STATES - 1)) | b for b in (0, 1)], axis=-1)  # (states, 2)


def decode(soft: np.ndarray, list_size: int = LIST_SIZE) -> bytes | None:
    """List Viterbi decoding (parallel list Viterbi, CRC-aided); ``soft[i] > 0`` favours coded
    bit 1. Of the ``list_size`` best zero-tailed paths, returns the payload of the best one whose
    CRC checks, else None. ``list_size=1`` is plain soft Viterbi."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    sign = 2.0 * _OUT - 1.0  # (states, inputs, outputs) in +-1
    steps, size = soft.shape[0], list_size
    metric = np.full((_STATES, size), -np.inf)
    metric[0, 0] = 0.0
    back_state = np.zeros((steps, _STATES, size), dtype=np.int64)
    back_rank = np.zeros((steps, _STATES, size), dtype=np.int64)
    rows = _NS[:, None]
    for t in range(steps):
        branch = (sign * soft[t]).sum(-1)  # (states, inputs)
        cand = (metric[_PREV] + branch[_PREV, _INPUT[:, None]][..., None]).reshape(_STATES, -1)
        order = np.argsort(-cand, axis=1, kind="stable")[:, :size]
        metric = np.take_along_axis(cand, order, axis=1)
        back_state[t] = _PREV[rows, order // size]
        back_rank[t] = order % size
    # trace every ranked path back from the zero state at once
    state, rank = np.zeros(size, dtype=np.int64), np.arange(size)
    bits = np.empty((size, steps), dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[:, t] = state >> (K - 2)
        state, rank = back_state[t, state, rank], back_rank[t, state, rank]
    for path, score in zip(bits, metric[0], strict=True):
        if not np.isfinite(score):
            break
        data, crc = path[:PAYLOAD_BITS], path[PAYLOAD_BITS:INFO_BITS]
        if np.array_equal(crc16(data), crc):
            return np.packbits(data).tobytes()
    return None
