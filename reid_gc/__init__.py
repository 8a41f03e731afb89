"""reid-gc: person re-identification training (the strong baseline) with Gradient Centralization."""
__version__ = "0.2.0"
__all__ = ["FeatureExtractor", "__version__"]


def __getattr__(name):
    # `import reid_gc` stays light: torch, torchvision and the model code load on first use of the API.
    if name == "FeatureExtractor":
        from .inference.api import FeatureExtractor

        return FeatureExtractor
    raise AttributeError(f"module 'reid_gc' has no attribute {name!r}")
