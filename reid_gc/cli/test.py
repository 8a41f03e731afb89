"""Evaluate a checkpoint: python tools/test.py [--config_file configs/X.yml] TEST.WEIGHT path/to/checkpoint"""
import logging

from reid_gc.cli.common import parse_args, run_cli
from reid_gc.engine.testing import test
from reid_gc.inference.record import config_for_weights
from reid_gc.utils.device import apply_device_id
from reid_gc.utils.logger import setup_logger


def main(argv=None):
    args = parse_args("reid-gc evaluation of a checkpoint", argv)
    cfg = config_for_weights(args.config_file, args.opts)  # the checkpoint's record, then file and opts
    apply_device_id(cfg)
    setup_logger(cfg.OUTPUT_DIR, filename="test_log.txt")
    test(cfg)
    logging.shutdown()


def cli(argv=None):
    run_cli(main, argv)
