"""Watching a run: per-epoch history (OUTPUT_DIR/epochs.json), curves.png at the end, TensorBoard scalars
when the optional tensorboard package is installed."""
import logging

from ..utils.atomic import atomic_path
from ..utils.run_dir import CURVES

logger = logging.getLogger(__name__)


def write_curves(run):
    """curves.png of the RunDir `run`: loss, accuracy, lr and mAP/Rank-1 per epoch; its path, or None."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs, _ = run.history()
    by_set = run.evaluations_by_set()
    if not epochs:
        return None
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    x = [e["epoch"] for e in epochs]
    for ax, key, title in zip(axes[:3], ("loss", "acc", "lr"), ("training loss", "training accuracy", "lr")):
        ax.plot(x, [e[key] for e in epochs], marker=".")
        ax.set_title(title)
        ax.set_xlabel("epoch")
    axes[2].set_yscale("log")
    for name, evals in by_set.items():  # one pair of lines per test set
        ex = [e["epoch"] for e in evals]
        label = f" {name}" if len(by_set) > 1 else ""
        line = axes[3].plot(ex, [100 * e["mAP"] for e in evals], marker="o", label="mAP" + label)[0]
        axes[3].plot(ex, [100 * e["rank1"] for e in evals], marker="s", ls="--", color=line.get_color(),
                     label="Rank-1" + label)
    if by_set:
        axes[3].legend(fontsize=7)
    axes[3].set_title("evaluation (%)")
    axes[3].set_xlabel("epoch")
    fig.tight_layout()
    path = run.path(CURVES)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def attach_tensorboard(trainer, evaluator, optimizer, log_dir):
    """TensorBoard scalars through ignite's logger, if tensorboard is installed; returns the logger or None.
    The learning rate is logged when an epoch starts, at that epoch's step: the rate it trains with."""
    try:
        from ignite.handlers import global_step_from_engine
        from ignite.handlers.tensorboard_logger import TensorboardLogger

        tb = TensorboardLogger(log_dir=log_dir)
    except (ImportError, ModuleNotFoundError):
        logger.info("tensorboard is not installed (pip install tensorboard): no TensorBoard logging")
        return None
    from ignite.engine import Events

    tb.attach_output_handler(trainer, event_name=Events.ITERATION_COMPLETED, tag="train",
                             output_transform=lambda out: out)
    tb.attach_opt_params_handler(trainer, event_name=Events.EPOCH_STARTED, optimizer=optimizer)
    tb.attach_output_handler(evaluator, event_name=Events.COMPLETED, tag="eval",
                             metric_names=["mAP", "rank1", "mINP"],
                             global_step_transform=global_step_from_engine(trainer))
    return tb
