"""Features of a folder: python tools/extract.py --config_file X.yml --input DIR --output f.pt TEST.WEIGHT ckpt.pt

Kept for reid-strong-baseline users; the same as `reid-gc extract`."""
from reid_gc.cli.extract import cli

cli()
