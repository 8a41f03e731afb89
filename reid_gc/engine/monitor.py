"""Watching a run: per-epoch history (OUTPUT_DIR/epochs.json), curves.png at the end, TensorBoard scalars
when the optional tensorboard package is installed."""
import json
import logging
import os

from ..utils.atomic import atomic_path
from .report import append_metrics

logger = logging.getLogger(__name__)


def _read_list(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, list) else []
    except (OSError, json.JSONDecodeError):
        return []


def record_epoch(output_dir, epoch, loss, acc, lr):
    append_metrics(os.path.join(output_dir, "epochs.json"), {"epoch": epoch, "loss": loss, "acc": acc, "lr": lr})


def load_evaluations(output_dir):
    """{test set: its training evaluations by epoch} in the order the test sets first appear (the last entry
    per epoch wins, so epochs repeated after a resume show once)."""
    by_set = {}
    for e in _read_list(os.path.join(output_dir, "metrics.json")):
        if e.get("source") == "train":
            by_set.setdefault(e.get("dataset", ""), {})[e["epoch"]] = e
    return {name: [evals[k] for k in sorted(evals)] for name, evals in by_set.items()}


def load_history(output_dir):
    """Per-epoch training stats and the evaluations of this run's first test set (the one model_best.pt
    follows)."""
    epochs = {e["epoch"]: e for e in _read_list(os.path.join(output_dir, "epochs.json"))}
    evals = next(iter(load_evaluations(output_dir).values()), [])
    return [epochs[k] for k in sorted(epochs)], evals


def write_curves(output_dir):
    """OUTPUT_DIR/curves.png: loss, accuracy, lr and mAP/Rank-1 per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs, _ = load_history(output_dir)
    by_set = load_evaluations(output_dir)
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
    path = os.path.join(output_dir, "curves.png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def attach_tensorboard(trainer, evaluator, optimizer, output_dir):
    """TensorBoard scalars through ignite's logger, if tensorboard is installed; returns the logger or None."""
    try:
        from ignite.handlers import global_step_from_engine
        from ignite.handlers.tensorboard_logger import TensorboardLogger

        tb = TensorboardLogger(log_dir=os.path.join(output_dir, "tensorboard"))
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
