"""Export the retrieval model to ONNX and check onnxruntime against torch (needs the 'onnx' extra):
python tools/export.py --config_file configs/X.yml --output model.onnx TEST.WEIGHT ckpt.pt"""
import logging

import torch

from reid_gc.cli.common import parse_args, run_cli
from reid_gc.config import load_config
from reid_gc.engine.testing import build_inference_model
from reid_gc.inference.export import export_onnx
from reid_gc.utils.errors import UserError
from reid_gc.utils.logger import setup_logger


def main(argv=None):
    args = parse_args("reid-gc ONNX export", argv,
                      lambda p: p.add_argument("--output", required=True, help="the .onnx file to write"))
    if not args.output.endswith(".onnx"):
        raise UserError(f"--output {args.output} must end in .onnx")
    cfg = load_config(args.config_file, args.opts)
    setup_logger()
    model = build_inference_model(cfg, 1, torch.device("cpu"))
    export_onnx(cfg, model, args.output)
    logging.shutdown()


def cli(argv=None):
    run_cli(main, argv)
