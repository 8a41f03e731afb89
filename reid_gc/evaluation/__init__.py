"""Ranking metrics (mAP, CMC, mINP), k-reciprocal re-ranking and ranked-list pictures."""
from .distance import compute_distance
from .ranking import RankingResult, evaluate, evaluate_features
from .rerank import re_ranking
from .visualize import save_ranked_lists

__all__ = ["RankingResult", "compute_distance", "evaluate", "evaluate_features", "re_ranking", "save_ranked_lists"]
