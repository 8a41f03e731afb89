"""First against second search of a gallery folder: the second reuses the cached gallery features.

    python benchmarks/search.py                          # 10,000 gallery crops, ResNet-18 at 64x32, CPU
    python benchmarks/search.py --gallery-size 2000 --size 128 64 --model resnet50

Makes a folder of synthetic person-sized JPEG crops (once, kept in --workdir) and a randomly initialised
checkpoint with its model record, then times reid_gc.inference.search.search in this process: the first
search with no cache (every gallery image decoded and run through the network, the cache written), then
the second, third, ... with the cache (the folder listed and stat'ed, the cache read, one query computed).
The model is loaded once, before the timings. Prints the times and their ratio (target: >= 20x).
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reid_gc.config import load_config  # noqa: E402
from reid_gc.inference.api import FeatureExtractor  # noqa: E402
from reid_gc.inference.record import model_record  # noqa: E402
from reid_gc.inference.search import cache_path, search  # noqa: E402
from reid_gc.modeling import build_model  # noqa: E402


def make_gallery(folder, n, seed=0):
    """n JPEG crops of 128x64: a coloured body on a noisy background (content does not matter here)."""
    os.makedirs(folder, exist_ok=True)
    have = len([f for f in os.listdir(folder) if f.endswith(".jpg")])
    rng = np.random.default_rng(seed)
    for i in range(have, n):
        img = rng.integers(0, 60, (128, 64, 3), dtype=np.uint8) + 60
        img[20:120, 16:48] = rng.integers(0, 256, 3, dtype=np.uint8)
        Image.fromarray(img).save(os.path.join(folder, f"{i:06d}.jpg"), quality=90)


def make_checkpoint(path, model_name, size):
    cfg = load_config("", ["MODEL.NAME", model_name, "INPUT.SIZE_TEST", str(list(size)), "MODEL.DEVICE", "cpu",
                           "MODEL.PRETRAIN_CHOICE", "scratch"])
    torch.manual_seed(0)
    model = build_model(cfg, 10, pretrained=False)
    torch.save({"model": model.state_dict(), **model_record(cfg, model)}, path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gallery-size", type=int, default=10000)
    p.add_argument("--model", default="resnet18")
    p.add_argument("--size", type=int, nargs=2, default=[64, 32], help="INPUT.SIZE_TEST (height width)")
    p.add_argument("--repeats", type=int, default=5, help="cached searches timed (median reported)")
    p.add_argument("--workdir", default="/tmp/reid_gc_search_bench")
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    gallery = os.path.join(args.workdir, f"gallery_{args.gallery_size}")
    make_gallery(gallery, args.gallery_size)
    weights = os.path.join(args.workdir, f"{args.model}_{args.size[0]}x{args.size[1]}.pt")
    make_checkpoint(weights, args.model, args.size)
    query = os.path.join(gallery, "000000.jpg")
    extractor = FeatureExtractor(weights, device="cpu", batch_size=args.batch_size)
    if os.path.exists(cache_path(gallery)):
        os.remove(cache_path(gallery))

    start = time.perf_counter()
    search(extractor, weights, [query], gallery, topk=10)
    first = time.perf_counter() - start
    cached = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        names, _, order = search(extractor, weights, [query], gallery, topk=10)
        cached.append(time.perf_counter() - start)
    second = statistics.median(cached)
    print(f"gallery {len(names)} images, {args.model} at {args.size[0]}x{args.size[1]}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"first search (no cache): {first:.2f} s")
    print(f"second search (cached), median of {args.repeats}: {second:.3f} s  "
          f"(runs: {', '.join(f'{t:.3f}' for t in cached)})")
    print(f"ratio: {first / second:.1f}x  (target >= 20x); top-1 of the query: {names[int(order[0, 0])]}")


if __name__ == "__main__":
    main()
