"""Export the retrieval model to ONNX and check onnxruntime against torch (needs the 'onnx' extra):
python tools/export.py --config_file configs/X.yml --output model.onnx TEST.WEIGHT ckpt.pt"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# OpenMP threads that spin while waiting lose whole time slices whenever loader workers or other programs
# share the cores (measured 8x slower steps on 2 busy cores); passive waiting costs little otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from reid_gc.config import load_config  # noqa: E402
from reid_gc.engine.cli import parse_args, run_cli  # noqa: E402
from reid_gc.engine.export import export_onnx  # noqa: E402
from reid_gc.engine.test_loop import build_inference_model  # noqa: E402
from reid_gc.utils.errors import UserError  # noqa: E402
from reid_gc.utils.logger import setup_logger  # noqa: E402


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


if __name__ == "__main__":
    run_cli(main)
