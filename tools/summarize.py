"""Table of runs: python tools/summarize.py OUT

Kept for reid-strong-baseline users; the same as `reid-gc summarize`."""
from reid_gc.cli.summarize import cli

cli()
