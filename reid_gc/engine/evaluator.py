"""The ignite evaluation engine: images -> features, ranked by ReIDMetric under the Market-1501 protocol."""
import torch
from ignite.engine import Engine

from ..data.transforms import BatchTransform
from ..evaluation.metric import ReIDMetric
from .train_step import autocast_context

METRIC_NAME = "reid"


def extract_features(model, imgs, flip=False):
    feats = model(imgs)
    if flip:
        feats = (feats + model(torch.flip(imgs, dims=[3]))) / 2
    return feats


def create_feature_engine(cfg, model, device):
    """An Engine whose output per batch is (features, pids, camids, indices), as TEST.* asks."""
    memory_format = torch.channels_last if cfg.MODEL.CHANNELS_LAST == "yes" else torch.contiguous_format
    flip = cfg.TEST.FLIP_FEAT == "yes"

    normalize = BatchTransform(cfg, train=False)

    @torch.inference_mode()
    def step(engine, batch):
        model.eval()
        imgs, pids, camids, indices = batch
        imgs = normalize(imgs.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
        with autocast_context(device, cfg.SOLVER.AMP):
            feats = extract_features(model, imgs, flip)
        return feats.float(), pids, camids, indices

    return Engine(step)


def create_evaluator(cfg, model, device, num_query):
    """The feature engine with ReIDMetric attached: state.metrics[METRIC_NAME] is the ranking result."""
    evaluator = create_feature_engine(cfg, model, device)
    rerank = None
    if cfg.TEST.RE_RANKING == "yes":
        rerank = {"k1": cfg.TEST.RE_RANKING_K1, "k2": cfg.TEST.RE_RANKING_K2,
                  "lambda_value": cfg.TEST.RE_RANKING_LAMBDA}
    metric = ReIDMetric(num_query, feat_norm=cfg.TEST.FEAT_NORM == "yes", distance=cfg.TEST.DISTANCE,
                        max_rank=cfg.TEST.MAX_RANK, rerank=rerank, device=device,
                        cross_camera=cfg.TEST.CROSS_CAMERA == "yes", roc=cfg.TEST.ROC == "yes")
    metric.attach(evaluator, METRIC_NAME)
    evaluator.reid_metric = metric
    return evaluator
