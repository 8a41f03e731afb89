"""Evaluate a checkpoint: python tools/test.py [--config_file configs/X.yml] TEST.WEIGHT path/to/checkpoint"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# OpenMP threads that spin while waiting lose whole time slices whenever loader workers or other programs
# share the cores (measured 8x slower steps on 2 busy cores); passive waiting costs little otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from reid_gc.engine.cli import parse_args, run_cli  # noqa: E402
from reid_gc.engine.test_loop import test  # noqa: E402
from reid_gc.inference.record import config_for_weights  # noqa: E402
from reid_gc.utils.device import apply_device_id  # noqa: E402
from reid_gc.utils.logger import setup_logger  # noqa: E402


def main(argv=None):
    args = parse_args("reid-gc evaluation of a checkpoint", argv)
    cfg = config_for_weights(args.config_file, args.opts)  # the checkpoint's record, then file and opts
    apply_device_id(cfg)
    setup_logger(cfg.OUTPUT_DIR, filename="test_log.txt")
    test(cfg)
    logging.shutdown()


if __name__ == "__main__":
    run_cli(main)
