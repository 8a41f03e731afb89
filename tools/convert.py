"""Convert a trained model file (reid-strong-baseline's) to a reid-gc checkpoint:
python tools/convert.py --input resnet50_model_120.pth --output converted.pt"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reid_gc.cli.convert import main  # noqa: E402
from reid_gc.engine.cli import run_cli  # noqa: E402

if __name__ == "__main__":
    run_cli(main)
