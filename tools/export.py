"""Export: python tools/export.py --config_file configs/X.yml --output model.onnx TEST.WEIGHT ckpt.pt

Kept for reid-strong-baseline users; the same as `reid-gc export`."""
from reid_gc.cli.export import cli

cli()
