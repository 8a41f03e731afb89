"""Convert reid-strong-baseline's trained model file to a reid-gc checkpoint:
python tools/convert.py --input resnet50_model_120.pth --output converted.pt

Kept beside the other tools; the same as `reid-gc convert`."""
from reid_gc.cli.convert import cli

cli()
