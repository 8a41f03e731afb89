"""Export a checkpoint for a tracker or an inference server (ONNX and fast-reid need no config file):
python tools/export.py --weights out/market/checkpoint_120.pt [--format onnx|torchscript|fastreid]
    [--input float|uint8|float255] [--output resnet50_market1501.onnx] [--config_file F] [KEY VALUE ...]"""
import logging

from reid_gc.cli.common import parse_args, run_cli
from reid_gc.inference.api import load_model
from reid_gc.inference.export import (
    EXTENSIONS,
    FORMATS,
    INPUTS,
    deepstream_values,
    default_output,
    export_onnx,
    export_torchscript,
)
from reid_gc.inference.fastreid import export_fastreid
from reid_gc.utils.errors import UserError
from reid_gc.utils.logger import setup_logger


def add_arguments(parser):
    parser.add_argument("--weights", default=None, help="checkpoint to export (or TEST.WEIGHT)")
    parser.add_argument("--format", default="onnx", choices=FORMATS, help="file format (default onnx)")
    parser.add_argument("--input", default="float", choices=INPUTS,
                        help="float: float32 RGB normalised with the ImageNet mean/std, the trackers' convention "
                             "(default); uint8: RGB 0..255; float255: float32 RGB 0..255")
    parser.add_argument("--output", default=None,
                        help="file to write (default <arch>_<dataset>.onnx, the name BoxMOT recognises)")


def main(argv=None):
    args = parse_args("reid-gc export", argv, add_arguments)
    logger = setup_logger()
    cfg, model = load_model(args.weights, "cpu", args.config_file, args.opts)
    output = args.output or default_output(cfg, args.format, args.input)
    if not output.endswith(EXTENSIONS[args.format]):
        raise UserError(f"--output {output} must end in {EXTENSIONS[args.format]} for --format {args.format}")
    if args.format == "onnx":
        export_onnx(cfg, model, output, args.input)
    elif args.format == "torchscript":
        export_torchscript(cfg, model, output, args.input)
    else:
        export_fastreid(cfg, model, output)
    if args.format != "fastreid" and args.input == "float":
        offsets, scale = deepstream_values(cfg)
        logger.info("DeepStream (nvinfer) for this file: model-color-format=0 offsets=%s net-scale-factor=%.6f "
                    "(approximate: one factor for three stds; export --input float255 for an exact model "
                    "with offsets=0;0;0 net-scale-factor=1)", ";".join(f"{o:g}" for o in offsets), scale)
    logging.shutdown()


def cli(argv=None):
    run_cli(main, argv)
