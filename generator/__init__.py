"""Generation that cannot leak unmarked clips: diffusers pipeline → watermark → encode → sign."""

from vidprov.generator.presets import (
    DEFAULT_PRESET,
    Preset,
    create,
    get_preset,
    list_presets,
    register,
)
from vidprov.generator.request import RequestPlan, check_options, plan_request
from vidprov.generator.run import GeneratedClip, GenerationResult, SignedGenerator

__all__ = [
    "DEFAULT_PRESET",
    "GeneratedClip",
    "GenerationResult",
    "Preset",
    "RequestPlan",
    "SignedGenerator",
    "check_options",
    "create",
    "get_preset",
    "list_presets",
    "plan_request",
    "register",
]
