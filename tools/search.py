"""Search a gallery folder with query images: python tools/search.py --weights ckpt.pt --query q.jpg --gallery DIR

Kept beside the other tools; the same as `reid-gc search`."""
from reid_gc.cli.search import cli

cli()
