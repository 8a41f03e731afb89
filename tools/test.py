"""Evaluate a checkpoint: python tools/test.py --config_file configs/X.yml TEST.WEIGHT ckpt.pt

Kept for reid-strong-baseline users; the same as `reid-gc test`."""
from reid_gc.cli.test import cli

cli()
