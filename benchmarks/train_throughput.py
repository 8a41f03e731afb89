"""Training throughput: images/s of whole training iterations (JPEG decoding, augmentation, P x K
sampling, forward, losses, backward, optimizer) against the bare model step on a preloaded batch.

    python benchmarks/train_throughput.py                      # CPU: fp32
    python benchmarks/train_throughput.py --modes fp32,amp     # GPU: fp32 vs bf16 AMP + channels_last
    python benchmarks/train_throughput.py --modes fp32,amp,amp_compile

ResNet-50 at 256x128, batches of 16 x 4, the strong baseline's recipe (configs/softmax_triplet.yml), on
the built-in synthetic dataset (128x64 JPEGs, as Market-1501's) with its training list repeated to
Market-1501's 12,936 images. Every figure is the median of --repeats timed runs, modes interleaved.
"""
import argparse
import os
import statistics
import tempfile
import time

from _common import sync, time_call

import torch
from ignite.engine import Events
from ignite.utils import manual_seed

from reid_gc.config import load_config
from reid_gc.data.build import load_dataset, make_data_loaders
from reid_gc.engine.training import build_components

MODES = {
    "fp32": [],
    "amp": ["SOLVER.AMP", "bf16", "MODEL.CHANNELS_LAST", "yes"],
    "amp_fp16": ["SOLVER.AMP", "fp16", "MODEL.CHANNELS_LAST", "yes"],
    "amp_compile": ["SOLVER.AMP", "bf16", "MODEL.CHANNELS_LAST", "yes", "MODEL.COMPILE", "yes"],
}
MARKET_TRAIN_IMAGES = 12936


def make_cfg(args, mode):
    opts = ["DATASETS.NAMES", "synthetic", "DATASETS.ROOT_DIR", args.data, "MODEL.PRETRAIN_CHOICE", "scratch",
            "MODEL.NAME", args.model, "MODEL.DEVICE", args.device, "DATALOADER.NUM_WORKERS", str(args.workers),
            "OUTPUT_DIR", tempfile.mkdtemp(prefix="bench-")] + MODES[mode]
    return load_config("configs/softmax_triplet.yml", opts)


def time_pipeline(trainer, loader, warmup, iters, device):
    """Seconds for `iters` whole iterations after `warmup` ones (the loss's .item() syncs each step)."""
    marks = {}

    def mark(engine):
        if engine.state.iteration == warmup:
            marks["start"] = time.perf_counter()
        if engine.state.iteration == warmup + iters:
            sync(device)
            marks["end"] = time.perf_counter()

    handle = trainer.add_event_handler(Events.ITERATION_COMPLETED, mark)
    trainer.run(loader, max_epochs=1, epoch_length=warmup + iters)
    handle.remove()
    return marks["end"] - marks["start"]


def time_bare(trainer, batch, warmup, iters, device):
    """The same process function on one preloaded batch already on the device: no data pipeline."""
    batch = tuple(t.to(device) for t in batch)
    for _ in range(warmup):
        trainer._process_function(trainer, batch)

    def run():
        for _ in range(iters):
            trainer._process_function(trainer, batch)

    return time_call(run, device)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--modes", default=None, help="comma-separated: " + ", ".join(MODES))
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--iters", type=int, default=None, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1))
    parser.add_argument("--data", default="./data", help="where the synthetic dataset is (or gets) generated")
    args = parser.parse_args()
    gpu = args.device == "cuda"
    modes = (args.modes or ("fp32,amp" if gpu else "fp32")).split(",")
    iters = args.iters or (40 if gpu else 3)
    warmup = args.warmup or (10 if gpu else 1)
    device = torch.device(args.device)

    base = make_cfg(args, "fp32")
    dataset = load_dataset(base)
    dataset.train = dataset.train * -(-MARKET_TRAIN_IMAGES // len(dataset.train))
    runs = {}
    for mode in modes:
        cfg = make_cfg(args, mode)
        manual_seed(0)
        data = make_data_loaders(cfg, dataset)
        comp = build_components(cfg, data.num_classes, device)
        if mode == "amp_compile":  # compile once, outside the timings
            time_pipeline(comp.trainer, data.train_loader, 2, 1, device)
        runs[mode] = (comp.trainer, data.train_loader, next(iter(data.train_loader)))
    pipe = {m: [] for m in modes}
    bare = {m: [] for m in modes}
    for _ in range(args.repeats):
        for mode in modes:
            trainer, loader, batch = runs[mode]
            pipe[mode].append(time_pipeline(trainer, loader, warmup, iters, device))
            bare[mode].append(time_bare(trainer, batch, warmup, iters, device))
    images = iters * base.SOLVER.IMS_PER_BATCH
    name = torch.cuda.get_device_name() if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"\n{args.model} {base.INPUT.SIZE_TRAIN[0]}x{base.INPUT.SIZE_TRAIN[1]}, batch "
          f"{base.SOLVER.IMS_PER_BATCH} (16x4), {args.workers} loader workers, {name}, torch {torch.__version__}; "
          f"median of {args.repeats} runs of {iters} iterations")
    print("\n| mode | pipeline img/s | bare step img/s | pipeline / bare | pipeline vs fp32 pipeline |")
    print("| --- | --- | --- | --- | --- |")
    ref = images / statistics.median(pipe[modes[0]])
    for mode in modes:
        p = images / statistics.median(pipe[mode])
        b = images / statistics.median(bare[mode])
        print(f"| {mode} | {p:.1f} | {b:.1f} | {p / b:.3f} | {p / ref:.2f}x |")


if __name__ == "__main__":
    main()
