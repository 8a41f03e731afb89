"""Losses of the strong baseline: ID (label-smoothed cross entropy), batch-hard triplet, center."""
from .build import ReidLoss, make_loss
from .center import CenterLoss
from .cross_entropy import CrossEntropyLabelSmooth
from .triplet import TripletLoss, euclidean_dist, hard_example_mining

__all__ = ["CenterLoss", "CrossEntropyLabelSmooth", "ReidLoss", "TripletLoss", "euclidean_dist",
           "hard_example_mining", "make_loss"]
