"""Models: ResNet backbones and the strong baseline's BNNeck model."""
from .baseline import Baseline
from .build import build_model

__all__ = ["Baseline", "build_model"]
