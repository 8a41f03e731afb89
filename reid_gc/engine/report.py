"""Result lines in the strong baseline's form, and the entry metrics.json records for a result."""
import logging
import time

logger = logging.getLogger(__name__)

RANKS = (1, 5, 10)


def _pm(result, key):
    """' ± x%' when the result averages several splits."""
    return " ± {:.1%}".format(result.std[key]) if result.std and key in result.std else ""


def log_result(result, title):
    logger.info(title)
    logger.info("mAP: {:.1%}{}".format(result.mAP, _pm(result, "mAP")))
    for r in RANKS:
        if r <= len(result.cmc):
            logger.info("CMC curve, Rank-{:<3}:{:.1%}{}".format(r, result.cmc[r - 1], _pm(result, f"rank{r}")))
    logger.info("mINP: {:.1%}{}".format(result.mINP, _pm(result, "mINP")))
    if result.repeats > 1:
        logger.info("mean ± standard deviation over %d random query/gallery splits", result.repeats)
    skipped = result.num_queries - result.num_valid_queries
    if skipped:
        logger.info("%d of %d queries have no true match in the gallery and were skipped",
                    skipped, result.num_queries)
    if result.roc is not None:
        roc = result.roc
        logger.info("ROC AUC: %.4f (%d positive, %d negative pairs)", roc.auc, roc.num_positive, roc.num_negative)
        for p in roc.points:
            logger.info("TPR at FPR <= %g: %.1f%% (distance < %.6g, FPR %.2g)", p["fpr_target"], 100 * p["tpr"],
                        p["threshold"], p["fpr"])


def result_entry(result, **extra):
    entry = dict(extra)
    entry.update({
        "mAP": float(result.mAP),
        "mINP": float(result.mINP),
        **{f"rank{r}": float(result.cmc[r - 1]) for r in RANKS if r <= len(result.cmc)},
        "cmc": [round(float(c), 6) for c in result.cmc],
        "num_valid_queries": int(result.num_valid_queries),
        "num_queries": int(result.num_queries),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    if result.repeats > 1:
        entry.update(repeats=int(result.repeats), std=dict(result.std))
    if result.roc is not None:
        entry["roc"] = result.roc.to_dict()
    return entry
