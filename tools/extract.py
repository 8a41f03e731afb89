"""Compute features of a folder of images with a trained checkpoint (its config comes with it):
python tools/extract.py --weights ckpt.pt --input FOLDER --output feats.pt [--config_file F] [KEY VALUE ...]"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# OpenMP threads that spin while waiting lose whole time slices whenever loader workers or other programs
# share the cores (measured 8x slower steps on 2 busy cores); passive waiting costs little otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from reid_gc.engine.cli import parse_args, run_cli  # noqa: E402
from reid_gc.engine.test_loop import build_inference_model  # noqa: E402
from reid_gc.inference.extract import extract_folder, save_features  # noqa: E402
from reid_gc.inference.record import config_for_weights  # noqa: E402
from reid_gc.utils.device import apply_device_id, resolve_device  # noqa: E402
from reid_gc.utils.errors import UserError  # noqa: E402
from reid_gc.utils.logger import setup_logger  # noqa: E402


def add_arguments(parser):
    parser.add_argument("--weights", default=None, help="checkpoint (or TEST.WEIGHT)")
    parser.add_argument("--input", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--output", required=True, help="features file: .pt or .npy (names in .names.txt)")


def main(argv=None):
    args = parse_args("reid-gc feature extraction", argv, add_arguments)
    if not args.output.endswith((".pt", ".npy")):
        raise UserError(f"--output {args.output} must end in .pt or .npy")
    logger = setup_logger()
    cfg = config_for_weights(args.config_file, args.opts, args.weights)
    apply_device_id(cfg)
    device = resolve_device(cfg)
    model = build_inference_model(cfg, 1, device)
    names, features = extract_folder(cfg, model, device, args.input)
    written = save_features(args.output, names, features)
    logger.info("%d features of dimension %d written to %s", len(names), features.shape[1], ", ".join(written))
    logging.shutdown()


if __name__ == "__main__":
    run_cli(main)
