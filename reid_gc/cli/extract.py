"""Compute features of a folder of images with a trained checkpoint (its config comes with it):
python tools/extract.py --weights ckpt.pt --input FOLDER --output feats.pt [--config_file F] [KEY VALUE ...]"""
import logging

from reid_gc.cli.common import parse_args, run_cli
from reid_gc.engine.testing import build_inference_model
from reid_gc.inference.extract import extract_folder, save_features
from reid_gc.inference.record import config_for_weights
from reid_gc.utils.device import apply_device_id, resolve_device
from reid_gc.utils.errors import UserError
from reid_gc.utils.logger import setup_logger


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


def cli(argv=None):
    run_cli(main, argv)
