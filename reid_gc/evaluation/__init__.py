"""Ranking metrics (mAP, CMC, mINP), ROC, repeated-split protocols, k-reciprocal re-ranking and ranked lists."""
from .distance import compute_distance
from .ranking import RankingResult, evaluate, evaluate_features
from .repeated import evaluate_splits
from .rerank import re_ranking
from .roc import RocResult
from .visualize import save_ranked_lists

__all__ = ["RankingResult", "RocResult", "compute_distance", "evaluate", "evaluate_features", "evaluate_splits",
           "re_ranking", "save_ranked_lists"]
