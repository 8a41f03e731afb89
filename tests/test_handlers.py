"""The training run's ignite handlers and the step's statistics, in-process on tiny fake engines."""
import logging
from types import SimpleNamespace

import pytest
import torch
from ignite.engine import Engine, Events

from reid_gc.engine.handlers import BestModel, EpochLog, IterationLog, PeriodicEvaluation
from reid_gc.engine.train_step import create_trainer
from reid_gc.solver.lr_scheduler import WarmupMultiStepLR
from reid_gc.utils.run_dir import RunDir


class _Net(torch.nn.Module):
    """score = a constant (so the accuracy is known), feat unused; one parameter for the optimizer."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n = x.shape[0]
        return torch.tensor([[1.0, 0.0]]).expand(n, 2) + 0 * self.w, torch.zeros(n, 2)


def _trainer(losses, async_stats, lr=0.0):
    """A trainer whose k-th step (over the whole run) has loss losses[k]; its accuracy is the share of
    labels 0 in the batch (the score always picks class 0)."""
    calls = []

    def loss_fn(score, feat, target):
        calls.append(1)
        return score.sum() * 0 + losses[len(calls) - 1], {}

    net = _Net()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    trainer, _ = create_trainer(net, loss_fn, opt, torch.device("cpu"), augment=lambda x, g: x.float(),
                                async_stats=async_stats)
    return trainer, opt


def _batches(labels):
    return [(torch.zeros(len(y), 3, 2, 2), torch.tensor(y), torch.zeros(len(y)), torch.arange(len(y)))
            for y in labels]


# Five steps per epoch; per-step accuracy = share of zeros.
LABELS = [[0, 0], [0, 1], [1, 1], [0, 0], [1, 0]]
ACCS = [1.0, 0.5, 0.0, 1.0, 0.5]
LOSSES = [4.0, 3.0, 2.0, 1.0, 8.0, 2.0, 2.0, 2.0, 2.0, 7.0]


@pytest.mark.parametrize("async_stats", [False, True], ids=["sync", "async"])
def test_epoch_means_count_every_step_once(async_stats):
    # issue 16, defect 6: on a GPU (the asynchronous read-back) the first step counted twice, the last not at all
    trainer, _ = _trainer(LOSSES, async_stats)
    seen = []
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(dict(e.state.metrics)))
    trainer.run(_batches(LABELS), max_epochs=2)
    assert seen[0]["epoch_loss"] == pytest.approx(sum(LOSSES[:5]) / 5)  # 3.6
    assert seen[1]["epoch_loss"] == pytest.approx(sum(LOSSES[5:]) / 5)  # 3.0
    assert seen[0]["epoch_acc"] == pytest.approx(sum(ACCS) / 5)
    assert seen[1]["epoch_acc"] == pytest.approx(sum(ACCS) / 5)


def test_iteration_log_shows_the_mean_since_the_previous_line(caplog):
    # issue 11: a running average restarted every epoch and mostly showed the epoch's first batch
    trainer, opt = _trainer(LOSSES, async_stats=True)
    IterationLog(opt, period=2, epoch_length=5).attach(trainer)
    with caplog.at_level(logging.INFO, logger="reid_gc"):
        trainer.run(_batches(LABELS), max_epochs=2)
    lines = [r.getMessage() for r in caplog.records if "Iteration[" in r.getMessage()]
    # lines after global iterations 2, 4, 6, 8, 10; each the mean of the two steps before it
    want = [(1, 2, 3.5, 0.75), (1, 4, 1.5, 0.5), (2, 1, 5.0, 0.75), (2, 3, 2.0, 0.25), (2, 5, 4.5, 0.75)]
    assert lines == [f"Epoch[{e}] Iteration[{i}/5] Loss: {loss:.3f}, Acc: {acc:.3f}, Base Lr: 0.00e+00"
                     for e, i, loss, acc in want]


def test_epochs_json_records_the_lr_each_epoch_trained_with(tmp_path):
    # issue 11: the lr was read after the scheduler's step, one epoch ahead
    trainer, opt = _trainer([1.0] * 15, async_stats=False, lr=0.1)
    for g in opt.param_groups:
        g["lr"] = 0.1
    scheduler = WarmupMultiStepLR(opt, steps=(2,), gamma=0.1, warmup_factor=0.5, warmup_iters=1)
    seen_lr = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen_lr.append((e.state.epoch,
                                                                                   opt.param_groups[0]["lr"])))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: scheduler.step())  # registered first, as in train()
    EpochLog(opt, epoch_length=5, batch_size=2, run_dir=RunDir(tmp_path)).attach(trainer)
    trainer.run(_batches(LABELS), max_epochs=3)
    epochs, _ = RunDir(tmp_path).history()
    # by hand: epoch 1 (index 0) warms up at 0.5 * 0.1; epoch 2 at 0.1; epoch 3 after step 2 at 0.01
    assert [e["lr"] for e in epochs] == pytest.approx([0.05, 0.1, 0.01])
    assert [lr for _, lr in seen_lr[::5]] == pytest.approx([0.05, 0.1, 0.01])
    assert [e["loss"] for e in epochs] == [1.0, 1.0, 1.0]


def _result(mAP, rank1):
    return SimpleNamespace(mAP=mAP, cmc=[rank1, 1.0])


def test_best_model_keeps_the_highest_map_and_starts_from_the_history(tmp_path):
    model = torch.nn.Linear(2, 2)
    best = BestModel(model, RunDir(tmp_path), previous=[{"epoch": 2, "mAP": 0.5, "rank1": 0.6},
                                                        {"epoch": 4, "mAP": 0.7, "rank1": 0.8}])
    best.update(5, _result(0.6, 0.9))
    assert best.best == (4, 0.7, 0.8) and not (tmp_path / "model_best.pt").exists()
    with torch.no_grad():
        model.weight.fill_(3.0)
    best.update(6, _result(0.75, 0.7))
    assert best.best == (6, 0.75, 0.7)
    saved = torch.load(tmp_path / "model_best.pt", weights_only=True)
    assert saved["epoch"] == 6 and torch.equal(saved["model"]["weight"], torch.full((2, 2), 3.0))


class _Evaluator:
    """An evaluator that fails at the epochs in `fail`."""

    def __init__(self, fail=()):
        self.fail, self.runs = set(fail), 0
        self.state = SimpleNamespace(metrics={})

    def run(self, loader):
        self.runs += 1
        if self.runs in self.fail:
            raise RuntimeError("out of memory")
        self.state.metrics["reid"] = _result(0.1 * self.runs, 0.2)

    def __call__(self, epoch):  # PeriodicEvaluation's evaluate(epoch)
        self.run(None)
        return self.state.metrics["reid"]


def test_periodic_evaluation_schedule_and_a_failure_saves_the_epoch_first():
    # issue 16, defect 1: a failure inside evaluation lost the epoch's training
    evaluator, results, saved = _Evaluator(fail={2}), [], []
    evaluation = PeriodicEvaluation(evaluator, period=2, max_epochs=5, on_result=lambda e, r: results.append(e),
                                    save_checkpoint=lambda t: saved.append(t.state.epoch))
    trainer = Engine(lambda e, b: None)
    evaluation.attach(trainer)
    with pytest.raises(RuntimeError, match="out of memory"):
        trainer.run([0], max_epochs=5)
    assert results == [2] and saved == [4]  # evaluated at 2; the evaluation at 4 failed after saving epoch 4
    trainer = Engine(lambda e, b: None)
    evaluation = PeriodicEvaluation(_Evaluator(), period=2, max_epochs=5,
                                    on_result=lambda e, r: results.append(e))
    evaluation.attach(trainer)
    trainer.run([0], max_epochs=5)
    assert results == [2, 2, 4, 5]  # every 2 epochs and after the last


def test_evaluate_missed_after_a_resume():
    results = []
    evaluation = PeriodicEvaluation(_Evaluator(), period=2, max_epochs=5,
                                    on_result=lambda e, r: results.append(e))
    evaluation.evaluate_missed(4, recorded={2})
    evaluation.evaluate_missed(2, recorded={2})  # done already
    evaluation.evaluate_missed(3, recorded=set())  # not due
    evaluation.evaluate_missed(5, recorded={2, 4})  # the last epoch is always due
    assert results == [4, 5]


def test_tensorboard_records_the_lr_each_epoch_trained_with(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from reid_gc.engine.monitor import attach_tensorboard

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    scheduler = WarmupMultiStepLR(opt, steps=(2,), gamma=0.1, warmup_factor=0.5, warmup_iters=1)
    trainer = Engine(lambda e, b: {"loss": 1.0, "acc": 0.5})
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: scheduler.step())
    tb = attach_tensorboard(trainer, Engine(lambda e, b: None), opt, str(tmp_path))
    trainer.run([0, 1], max_epochs=3)
    tb.close()
    (events,) = list(tmp_path.iterdir())
    acc = EventAccumulator(str(events))
    acc.Reload()
    # the same rates, by hand, as in the epochs.json test above
    assert [(s.step, round(s.value, 6)) for s in acc.Scalars("lr/group_0")] == [(1, 0.05), (2, 0.1), (3, 0.01)]
