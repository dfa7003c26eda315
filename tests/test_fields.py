"""Config dataclasses refuse values of the wrong type with the package's own errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidprov.detector.train import TrainConfig
from vidprov.errors import ConfigError, MediaError, ProvenanceError, VidprovError, WatermarkError
from vidprov.media import EncodeOptions
from vidprov.provenance import SignOptions
from vidprov.watermark import WatermarkConfig


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: EncodeOptions(crf="18"), MediaError, "crf must be a whole number, got '18'"),
        (lambda: EncodeOptions(crf=18.0), MediaError, "crf must be a whole number"),
        (lambda: EncodeOptions(bitrate="2M"), MediaError, "bitrate must be a whole number or None"),
        (lambda: WatermarkConfig(strength="2"), WatermarkError, "strength must be a number"),
        (lambda: WatermarkConfig(sync="no"), WatermarkError, "sync must be true or false"),
        (lambda: WatermarkConfig(grid=[128, 72]), WatermarkError, "grid must be a tuple"),
        # a text "no" used to be taken at its truth value: the clip was declared generated
        (lambda: SignOptions(ai="no"), ProvenanceError, "ai must be true or false, got 'no'"),
        (lambda: SignOptions(title=5), ProvenanceError, "title must be text or None, got 5"),
        (lambda: SignOptions(parameters=[1]), ProvenanceError, "parameters must be a dict"),
        (lambda: TrainConfig(seed="7"), ConfigError, "seed must be a whole number"),
        (lambda: TrainConfig(splice_gif=1), ConfigError, "splice_gif must be true or false"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(
    make: Callable[[], object], error: type[VidprovError], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_numbers_of_any_kind_are_taken_as_pythons_own() -> None:
    import json
    from dataclasses import asdict
    from fractions import Fraction

    e = EncodeOptions(crf=np.int64(20), faststart=np.bool_(False))
    assert (e.crf, e.faststart) == (20, False) and type(e.crf) is int and type(e.faststart) is bool
    assert WatermarkConfig(strength=2).strength == 2  # an int where a float goes
    assert type(WatermarkConfig(strength=np.float32(1.5)).strength) is float
    assert SignOptions(soft_binding=(), parameters={"seed": 1}).soft_binding == ()
    # kept as numpy's, they broke the JSON of a training report and of a manifest
    t = TrainConfig(seed=np.int64(3), splice_false_rate=Fraction(1, 10), splice_gif=np.bool_(1))
    assert json.loads(json.dumps(asdict(t)))["splice_false_rate"] == 0.1
    assert type(SignOptions(ai=np.bool_(True)).ai) is bool
