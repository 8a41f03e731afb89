"""Train (and evaluate) a ReID model: python tools/train.py --config_file configs/X.yml [KEY VALUE ...]"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# OpenMP threads that spin while waiting lose whole time slices whenever loader workers or other programs
# share the cores (measured 8x slower steps on 2 busy cores); passive waiting costs little otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import ignite.distributed as idist  # noqa: E402

from reid_gc.config import load_config, save_config  # noqa: E402
from reid_gc.engine.checkpointing import archive_previous_run  # noqa: E402
from reid_gc.engine.cli import parse_args, run_cli  # noqa: E402
from reid_gc.engine.train_loop import train  # noqa: E402
from reid_gc.utils.device import apply_device_id  # noqa: E402
from reid_gc.utils.logger import open_log_file, setup_logger  # noqa: E402


def run(local_rank, cfg, config_file):
    rank = idist.get_rank()
    # log.txt and config.yml are written, and a previous run moved aside, only once everything the config
    # names has been built: a run that fails to start leaves OUTPUT_DIR as it was.
    logger = setup_logger(rank=rank, defer_file=True)
    if rank == 0:
        logger.info("running with config file %s and %d process(es)", config_file or "(defaults)",
                    idist.get_world_size())

    def start_output():
        if rank != 0:
            return
        continuing = cfg.SOLVER.RESUME or cfg.MODEL.PRETRAIN_CHOICE == "self"  # a resumed run keeps its folder
        moved = None if continuing else archive_previous_run(cfg.OUTPUT_DIR)
        open_log_file(cfg.OUTPUT_DIR)
        if moved:
            logger.info("moved the previous run's files in %s to %s", cfg.OUTPUT_DIR, moved)
        save_config(cfg, os.path.join(cfg.OUTPUT_DIR, "config.yml"))
        logger.info("config saved to %s", os.path.join(cfg.OUTPUT_DIR, "config.yml"))

    train(cfg, start_output)


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


if __name__ == "__main__":
    run_cli(main)
