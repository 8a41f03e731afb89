"""Train and evaluate: python tools/train.py --config_file configs/X.yml [KEY VALUE ...]

Kept for reid-strong-baseline users; the same as `reid-gc train`."""
from reid_gc.cli.train import cli

cli()
