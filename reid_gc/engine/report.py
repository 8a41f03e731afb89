"""Result lines in the strong baseline's form, and the entry metrics.json records for a result."""
import logging
import time

logger = logging.getLogger(__name__)

RANKS = (1, 5, 10)


def log_result(result, title):
    logger.info(title)
    logger.info("mAP: {:.1%}".format(result.mAP))
    for r in RANKS:
        if r <= len(result.cmc):
            logger.info("CMC curve, Rank-{:<3}:{:.1%}".format(r, result.cmc[r - 1]))
    logger.info("mINP: {:.1%}".format(result.mINP))
    skipped = result.num_queries - result.num_valid_queries
    if skipped:
        logger.info("%d of %d queries have no true match in another camera and were skipped",
                    skipped, result.num_queries)


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
    return entry
