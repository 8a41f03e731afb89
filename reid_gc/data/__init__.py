"""Datasets, transforms, samplers and loaders (import from the submodules)."""
