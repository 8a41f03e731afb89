"""reid-gc search: rank a folder of crops against query images with a trained checkpoint.

python tools/search.py --weights out/market/checkpoint_120.pt --query q.jpg [--query q2.jpg ...] --gallery DIR --topk 10
    [--csv results.csv] [--visualize ranked.png] [--no-cache] [--config_file F] [KEY VALUE ...]
"""
import csv
import logging
import os

from ..utils.atomic import atomic_path
from ..utils.errors import UserError
from ..utils.logger import setup_logger
from .common import parse_args, run_cli


def add_arguments(parser):
    parser.add_argument("--weights", required=True, help="a run's checkpoint (checkpoint_<epoch>.pt)")
    parser.add_argument("--query", action="append", default=[], help="query image (repeat for several)")
    parser.add_argument("--gallery", required=True, help="folder of gallery images (searched recursively)")
    parser.add_argument("--topk", type=int, default=10, help="gallery images listed per query (default 10)")
    parser.add_argument("--csv", default="search_results.csv", help="CSV written: query,rank,gallery,distance")
    parser.add_argument("--visualize", default="", help="PNG of each query and its ranked gallery images")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the gallery cache")


def _check_queries(queries):
    from PIL import Image

    for q in queries:
        if not os.path.isfile(q):
            raise UserError(f"query image {q} not found: give --query the path of an image file")
        try:
            with Image.open(q) as img:
                img.verify()
        except Exception as e:
            raise UserError(f"query image {q} cannot be read ({type(e).__name__}): give an image file "
                            "(jpg, png, bmp, webp)") from None


def main(argv=None):
    args = parse_args("reid-gc search of a gallery folder", argv, add_arguments)
    if args.topk < 1:
        raise UserError(f"--topk must be 1 or more, got {args.topk}")
    if not args.query:
        raise UserError("no query image: give --query with an image file (repeat it for several)")
    _check_queries(args.query)
    if not args.csv.endswith(".csv"):
        raise UserError(f"--csv {args.csv} must end in .csv")
    logger = setup_logger()
    from ..inference.api import FeatureExtractor
    from ..inference.search import search

    extractor = FeatureExtractor(args.weights, device=args.device, config_file=args.config_file, opts=args.opts)
    names, distmat, order = search(extractor, args.weights, args.query, args.gallery, args.topk,
                                   use_cache=not args.no_cache)
    rows = []
    for qi, query in enumerate(args.query):
        lines = [f"query {query}: top {order.shape[1]} of {len(names)} ({extractor.cfg.TEST.DISTANCE} distance)"]
        for rank, gi in enumerate(order[qi].tolist(), start=1):
            dist = float(distmat[qi, gi])
            rows.append([query, rank, os.path.join(args.gallery, names[gi]), f"{dist:.6f}"])
            lines.append(f"  {rank:3d}  {dist:.4f}  {names[gi]}")
        print("\n".join(lines))
    with atomic_path(args.csv) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["query", "rank", "gallery", "distance"])
            writer.writerows(rows)
    logger.info("ranked lists written to %s", os.path.abspath(args.csv))
    if args.visualize:
        from ..evaluation.visualize import save_ranked_lists

        query = [(q, -1, -1) for q in args.query]
        gallery = [(os.path.join(args.gallery, n), -1, -1) for n in names]
        save_ranked_lists(args.visualize, distmat, query, gallery, len(query), topk=order.shape[1],
                          size=tuple(extractor.cfg.INPUT.SIZE_TEST), labelled=False)
    logging.shutdown()


def cli(argv=None):
    run_cli(main, argv)
