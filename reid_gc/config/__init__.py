from .defaults import get_defaults
from .load import load_config, save_config, validate

__all__ = ["get_defaults", "load_config", "save_config", "validate"]
