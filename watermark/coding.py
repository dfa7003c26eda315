"""Payload coding, kept apart from the signal processing.

64-bit payload + CRC-16 (CCITT) -> rate-1/2 convolutional code (K=7, generators 133/171 octal,
the NASA/CCSDS code) with zero tail -> 172 coded bits. Decoding is soft-decision Viterbi.
"""

from __future__ import annotations

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


def decode(soft: np.ndarray) -> bytes | None:
    """Soft Viterbi decode; ``soft[i] > 0`` favours coded bit 1. Returns the payload when the
    CRC checks, else None."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    sign = 2.0 * _OUT - 1.0  # (states, 2, 2) in +-1
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    steps = soft.shape[0]
    back = np.zeros((steps, _STATES), dtype=np.int64)
    for t in range(steps):
        branch = metric[:, None] + (sign * soft[t]).sum(-1)  # (states, inputs)
        new = np.full(_STATES, -np.inf)
        arg = np.zeros(_STATES, dtype=np.int64)
        flat = branch.ravel()
        order = np.argsort(flat, kind="stable")  # ascending: the best path into a state wins
        new[_NEXT.ravel()[order]] = flat[order]
        arg[_NEXT.ravel()[order]] = order
        metric, back[t] = new, arg
    state, bits = 0, []
    for t in range(steps - 1, -1, -1):
        idx = back[t, state]
        s, u = divmod(int(idx), 2)
        bits.append(u)
        state = s
    info = np.array(bits[::-1], dtype=np.uint8)[:INFO_BITS]
    data, crc = info[:PAYLOAD_BITS], info[PAYLOAD_BITS:]
    if not np.array_equal(crc16(data), crc):
        return None
    return np.packbits(data).tobytes()
