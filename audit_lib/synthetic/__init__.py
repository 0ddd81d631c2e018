"""The synthetic borough: simulated journeys with planted, known effects."""

from .generate import Borough, SynthConfig, generate
from .write import write_borough

__all__ = ["Borough", "SynthConfig", "generate", "write_borough"]
