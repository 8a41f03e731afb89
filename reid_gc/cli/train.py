"""Train (and evaluate) a ReID model: python tools/train.py --config_file configs/X.yml [KEY VALUE ...]"""
import logging
import os

import ignite.distributed as idist

from reid_gc.cli.common import parse_args, run_cli
from reid_gc.config import load_config
from reid_gc.engine.training import train
from reid_gc.utils.device import apply_device_id
from reid_gc.utils.logger import setup_logger


def run(local_rank, cfg, config_file):
    rank = idist.get_rank()
    # train() opens log.txt (with the lines logged until then) once everything the config names is built.
    logger = setup_logger(rank=rank, defer_file=True)
    if rank == 0:
        logger.info("running with config file %s and %d process(es)", config_file or "(defaults)",
                    idist.get_world_size())
    train(cfg)


def main(argv=None):
    args = parse_args("reid-gc training", argv)
    cfg = load_config(args.config_file, args.opts)
    apply_device_id(cfg)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # started by torchrun
        import torch

        backend = "nccl" if cfg.MODEL.DEVICE == "cuda" and torch.cuda.is_available() else "gloo"
        with idist.Parallel(backend=backend) as parallel:
            parallel.run(run, cfg, args.config_file)
    else:
        run(0, cfg, args.config_file)
    logging.shutdown()


def cli(argv=None):
    run_cli(main, argv)
