"""python tools/search.py --weights model_best.pt --query q.jpg --gallery DIR --topk 10 (see reid_gc/cli/search.py)"""
from reid_gc.cli.search import run

run()
