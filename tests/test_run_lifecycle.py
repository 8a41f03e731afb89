"""A run's lifecycle in-process (train() as tools/train.py calls it): resuming with a changed config, what
RESUME 'auto' picks and archives, a failure inside evaluation, and the names a run writes."""
import json
import logging
import os

import pytest
import torch
from run_helpers import SMALL, write_market

from reid_gc.config import load_config
from reid_gc.engine.checkpoints import find_resume
from reid_gc.engine.testing import test as evaluate_checkpoint
from reid_gc.engine.training import train
from reid_gc.utils.errors import UserError
from reid_gc.utils.logger import setup_logger
from reid_gc.utils.run_dir import ARCHIVE, is_artifact

CONFIG = "configs/softmax_triplet_with_center.yml"
TINY = [*SMALL, "INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]", "SOLVER.MAX_EPOCHS", "1"]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    return write_market(str(tmp_path_factory.mktemp("data")))


def run_train(market, out, *opts):
    cfg = load_config(CONFIG, [*TINY, "DATASETS.ROOT_DIR", market, "OUTPUT_DIR", str(out), *opts])
    setup_logger(defer_file=True)
    try:
        return train(cfg)
    finally:
        setup_logger()  # closes log.txt


def epochs_of(out, name="metrics.json"):
    return [e.get("epoch") for e in json.load(open(os.path.join(out, name)))]


@pytest.mark.slow
def test_resume_applies_allowed_changes_refuses_the_others_and_keeps_every_config(market, tmp_path):
    # issue 16, defect 2
    out = tmp_path / "run"
    run_train(market, out)
    original = (out / "config.yml").read_text()
    run_train(market, out, "SOLVER.RESUME", "auto", "SOLVER.MAX_EPOCHS", "2", "TEST.FEAT_NORM", "no")
    assert epochs_of(out) == [1, 2] and epochs_of(out, "epochs.json") == [1, 2]  # MAX_EPOCHS took effect
    assert (out / "config.yml").read_text() == original
    resumed = load_config(str(out / "config_resume_1.yml"))
    assert (resumed.SOLVER.MAX_EPOCHS, resumed.TEST.FEAT_NORM, resumed.SOLVER.RESUME) == (2, "no", "auto")
    before = sorted(os.listdir(out))
    with pytest.raises(UserError) as err:
        run_train(market, out, "SOLVER.RESUME", "auto", "SOLVER.MAX_EPOCHS", "3", "SOLVER.BASE_LR", "0.1",
                  "SOLVER.STEPS", "[2]")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("SOLVER.RESUME: SOLVER.BASE_LR (0.00035 -> 0.1), SOLVER.STEPS ([40, 70] "
                                              "-> [2]) differ from the run's config")
    assert "config_resume_1.yml" in msg and "SOLVER.MAX_EPOCHS" not in msg
    assert sorted(os.listdir(out)) == before  # refused before anything was written


def test_resume_auto_without_a_checkpoint_archives_the_previous_run(market, tmp_path):
    # issue 16, defect 7: metrics.json and epochs.json mixed two runs
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps([{"source": "train", "epoch": 7, "mAP": 0.9, "rank1": 0.9}]))
    (out / "epochs.json").write_text(json.dumps([{"epoch": 7, "loss": 1.0, "acc": 1.0, "lr": 0.1}]))
    (out / "log.txt").write_text("an older run\n")
    run_train(market, out, "SOLVER.RESUME", "auto")
    assert epochs_of(out) == [1] and epochs_of(out, "epochs.json") == [1]
    (archived,) = os.listdir(out / ARCHIVE)
    assert sorted(os.listdir(out / ARCHIVE / archived)) == ["epochs.json", "log.txt", "metrics.json"]
    assert "an older run" not in (out / "log.txt").read_text()


def test_resume_auto_falls_back_to_the_newest_intact_checkpoint(tmp_path, caplog):
    # issue 16, defect 11
    torch.save({"model": {"w": torch.ones(2)}}, tmp_path / "checkpoint_3.pt")
    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "checkpoint_4.pt")
    data = (tmp_path / "checkpoint_4.pt").read_bytes()
    (tmp_path / "checkpoint_5.pt").write_bytes(data[: len(data) // 2])
    cfg = load_config("", ["OUTPUT_DIR", str(tmp_path), "SOLVER.RESUME", "auto"])
    with caplog.at_level(logging.WARNING, logger="reid_gc"):
        resume = find_resume(cfg)
    assert resume.path == str(tmp_path / "checkpoint_4.pt") and torch.equal(resume.state["model"]["w"], torch.zeros(2))
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"SOLVER.RESUME 'auto': skipped {tmp_path / 'checkpoint_5.pt'} (")
    assert "not a readable torch file (truncated or corrupt?)" in warning
    # a checkpoint refused for holding code is not skipped silently
    import pickle

    with open(tmp_path / "checkpoint_6.pt", "wb") as f:
        pickle.dump({"model": print}, f)
    with pytest.raises(UserError, match="checkpoint_6.pt holds arbitrary Python objects"):
        find_resume(cfg)


@pytest.mark.slow
def test_a_failed_evaluation_keeps_the_epoch_and_the_resumed_run_evaluates_it(market, tmp_path):
    # issue 16, defect 1: the run failed at its first evaluation before that epoch's checkpoint was written
    import shutil

    data = tmp_path / "data"
    shutil.copytree(market, data)
    query = data / "market1501" / "query"
    victim = query / sorted(os.listdir(query))[0]
    good = victim.read_bytes()
    victim.write_bytes(b"not a jpeg")
    out = tmp_path / "run"
    with pytest.raises(UserError, match="cannot be decoded"):
        run_train(str(data), out, "SOLVER.CHECKPOINT_PERIOD", "5", "SOLVER.MAX_EPOCHS", "2")
    assert os.path.isfile(out / "checkpoint_1.pt") and not (out / "metrics.json").exists()
    victim.write_bytes(good)
    run_train(str(data), out, "SOLVER.CHECKPOINT_PERIOD", "5", "SOLVER.MAX_EPOCHS", "2", "SOLVER.RESUME", "auto")
    assert epochs_of(out) == [1, 2]


@pytest.mark.slow
def test_a_run_writes_only_names_the_run_directory_knows(market, tmp_path):
    # issue 11: one module owns the run directory; a new file it does not list fails here
    out = tmp_path / "run"
    (out / "archive").mkdir(parents=True)
    run_train(market, out, "TEST.VISUALIZE", "2", "SOLVER.MAX_EPOCHS", "2")
    cfg = load_config(CONFIG, [*TINY, "DATASETS.ROOT_DIR", market, "OUTPUT_DIR", str(out), "TEST.VISUALIZE", "2",
                               "TEST.WEIGHT", str(out / "model_best.pt")])
    setup_logger(str(out), filename="test_log.txt")
    try:
        evaluate_checkpoint(cfg)
    finally:
        setup_logger()
    names = sorted(os.listdir(out))
    assert {"log.txt", "test_log.txt", "config.yml", "metrics.json", "epochs.json", "curves.png", "model_best.pt",
            "checkpoint_2.pt", "ranked_final.png", "ranked_test.png"} <= set(names)
    assert [n for n in names if n != ARCHIVE and not is_artifact(n)] == []
