"""reid-gc: person re-identification training (the strong baseline) with Gradient Centralization."""
__version__ = "0.1.0"
