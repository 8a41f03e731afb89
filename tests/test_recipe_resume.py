"""MODEL.PRETRAIN_CHOICE 'self' in training continues a run, as reid-strong-baseline's tools/train.py does:
from its own files (model, optimizer, centers, the epoch from the file name) or from a reid-gc checkpoint
(exactly as SOLVER.RESUME)."""
import logging
import os

import pytest
import torch
from ignite.handlers import Checkpoint
from rsb_training_files import write_their_run
from run_helpers import SMALL, TINY_SYNTHETIC, run_tool

from reid_gc.config import load_config
from reid_gc.engine.checkpoints import SafeDiskSaver, find_resume, load_resume
from reid_gc.engine.strong_baseline_resume import companion_path, epoch_from_file_name
from reid_gc.engine.training import build_components
from reid_gc.modeling import build_model
from reid_gc.utils.errors import UserError

NUM_CLASSES = 5
EPOCH_LENGTH = 7


def test_epoch_and_companion_names_follow_reid_strong_baseline():
    assert epoch_from_file_name("/a/b/resnet50_model_2.pth") == 2
    assert epoch_from_file_name("/a/b.c/se_resnext50_model_120.pth") == 120
    assert epoch_from_file_name("/a/model_best.pt") is None and epoch_from_file_name("model.pth") is None
    assert companion_path("/x/models/resnet50_model_2.pth", "optimizer") == "/x/models/resnet50_optimizer_2.pth"
    assert companion_path("/x/resnet50_model_2.pth", "center_param") == "/x/resnet50_center_param_2.pth"
    assert companion_path("/x/resnet50_model_2.pth", "optimizer_center") == "/x/resnet50_optimizer_center_2.pth"


def cfg_for(path, *opts, config="configs/softmax_triplet_with_center.yml"):
    return load_config(config, ["MODEL.NAME", "resnet18", "MODEL.DEVICE", "cpu", "MODEL.PRETRAIN_CHOICE", "self",
                                "MODEL.PRETRAIN_PATH", path, "SOLVER.MAX_EPOCHS", "6", *opts])


def their_files(folder, cfg, center=True, **kwargs):
    """Their run's files after epoch 2, from a model with random weights (our parameter names are theirs)."""
    torch.manual_seed(11)
    model = build_model(load_config("", ["MODEL.NAME", "resnet18", "MODEL.PRETRAIN_CHOICE", "scratch"]), NUM_CLASSES)
    ours_only = [k for k in model.state_dict() if not k.startswith(("base.", "bottleneck.", "classifier."))]
    return model, write_their_run(str(folder), model, "resnet18", 2, NUM_CLASSES if center else None, 512,
                                  extra_state=ours_only, **kwargs)


def continue_from(cfg, path):
    c = build_components(cfg, NUM_CLASSES, torch.device("cpu"), pretrained=False)
    to_load = {"model": c.model, "optimizer": c.optimizer, "scheduler": c.scheduler, "trainer": c.trainer}
    if c.center is not None:
        to_load.update(center=c.center, center_optimizer=c.center_optimizer)
    checkpointer = Checkpoint(dict(to_load), SafeDiskSaver(os.path.dirname(path)))
    assert cfg.MODEL.PRETRAIN_PATH == path
    load_resume(cfg, find_resume(cfg), to_load, checkpointer, EPOCH_LENGTH)
    return c


def test_their_files_continue_the_run_with_model_optimizer_centers_and_epoch(tmp_path, caplog):
    theirs, paths = their_files(tmp_path, None)
    cfg = cfg_for(paths["model"])
    assert find_resume(cfg).path == paths["model"]
    with caplog.at_level(logging.INFO):
        c = continue_from(cfg, paths["model"])
    # the model's weights
    saved = torch.load(paths["model"], weights_only=True)
    for name, value in c.model.state_dict().items():
        if name in saved:
            assert torch.equal(value, saved[name]), name
    # the optimizer's state, parameter by parameter (theirs: one group per parameter, in named_parameters order)
    their_state = torch.load(paths["optimizer"], weights_only=True)
    trainable = [n for n, p in theirs.named_parameters() if p.requires_grad]
    assert "bottleneck.bias" not in trainable and len(their_state["param_groups"]) == len(trainable)
    params = dict(c.model.named_parameters())
    for i, name in enumerate(trainable):
        s = c.optimizer.state[params[name]]
        assert torch.equal(s["exp_avg"], their_state["state"][i]["exp_avg"]), name
        assert torch.equal(s["exp_avg_sq"], their_state["state"][i]["exp_avg_sq"]), name
        assert float(s["step"]) == 2
    assert c.optimizer.state[params["bottleneck.bias"]] == {}
    # the centers and their optimizer (plain SGD: no state to carry, but the file is read)
    assert torch.equal(c.center.centers, torch.load(paths["center_param"], weights_only=True)["centers"])
    # epoch 2 is done: the trainer continues with epoch 3, whose lr is base * warmup factor of epoch index 2:
    # 0.01 * (1 - 2/10) + 2/10 = 0.208
    assert c.trainer.state.epoch == 2 and c.trainer.state.iteration == 2 * EPOCH_LENGTH
    assert c.optimizer.param_groups[0]["lr"] == pytest.approx(0.00035 * 0.208)
    assert "loaded model, optimizer (resnet18_optimizer_2.pth), centers (resnet18_center_param_2.pth), " \
           "center optimizer (resnet18_optimizer_center_2.pth)" in caplog.text


def test_their_pickled_whole_model_continues_too(tmp_path):
    rsb_reference = pytest.importorskip("rsb_reference")  # reid-strong-baseline's model, stated independently
    torch.manual_seed(3)
    theirs = rsb_reference.Baseline(NUM_CLASSES, "resnet50")
    paths = write_their_run(str(tmp_path), theirs, "resnet50", 4, NUM_CLASSES, 2048, whole=True)
    cfg = cfg_for(paths["model"], "MODEL.NAME", "resnet50")
    c = continue_from(cfg, paths["model"])
    ours = c.model.state_dict()
    for name, value in theirs.state_dict().items():
        assert torch.equal(ours[name], value), name
    assert not c.model.has_stem_relu  # its ResNet stem, as the pickled trunk has no ReLU module
    their_state = torch.load(paths["optimizer"], weights_only=True)
    trainable = [n for n, p in theirs.named_parameters() if p.requires_grad]
    params = dict(c.model.named_parameters())
    for i, name in enumerate(trainable):
        assert torch.equal(c.optimizer.state[params[name]]["exp_avg"], their_state["state"][i]["exp_avg"]), name
    assert c.trainer.state.epoch == 4


def test_missing_companion_files_start_those_parts_afresh(tmp_path, caplog):
    _, paths = their_files(tmp_path, None)
    for kind in ("optimizer", "center_param", "optimizer_center"):
        os.remove(paths[kind])
    cfg = cfg_for(paths["model"])
    with caplog.at_level(logging.INFO):
        c = continue_from(cfg, paths["model"])
    assert all(not s for s in c.optimizer.state.values())
    assert "the optimizer starts afresh" in caplog.text and "the centers start afresh" in caplog.text
    assert c.trainer.state.epoch == 2


def test_an_optimizer_file_of_another_kind_is_one_line(tmp_path):
    _, paths = their_files(tmp_path, None, optimizer="SGD")
    cfg = cfg_for(paths["model"])  # Adam
    with pytest.raises(UserError) as e:
        continue_from(cfg, paths["model"])
    assert "another kind of optimizer" in str(e.value) and "\n" not in str(e.value)


def test_self_needs_a_path_in_training_only(tmp_path):
    cfg = load_config("", ["MODEL.PRETRAIN_CHOICE", "self"])  # tools/test.py needs only TEST.WEIGHT
    with pytest.raises(UserError, match="needs MODEL.PRETRAIN_PATH in training"):
        find_resume(cfg)
    cfg = load_config("", ["MODEL.PRETRAIN_CHOICE", "self", "MODEL.PRETRAIN_PATH", str(tmp_path / "none.pth")])
    with pytest.raises(UserError, match="is not a file"):
        find_resume(cfg)


@pytest.mark.slow
def test_our_checkpoint_as_pretrain_path_is_the_same_as_resume(tmp_path):
    run = [*SMALL, *TINY_SYNTHETIC, "SOLVER.MAX_EPOCHS", "2", "SOLVER.EVAL_PERIOD", "2", "SOLVER.DETERMINISTIC",
           "yes", "SOLVER.SEED", "3", "DATASETS.ROOT_DIR", str(tmp_path / "data")]
    config = ["--config_file", "configs/softmax_triplet_with_center.yml"]
    full = str(tmp_path / "full")
    r = run_tool("train.py", *config, *run, "OUTPUT_DIR", full)
    assert r.returncode == 0, r.stderr[-3000:]
    again = str(tmp_path / "again")
    r = run_tool("train.py", *config, *run, "OUTPUT_DIR", again, "MODEL.PRETRAIN_CHOICE", "self",
                 "MODEL.PRETRAIN_PATH", os.path.join(full, "checkpoint_1.pt"))
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(os.path.join(full, "checkpoint_2.pt"), weights_only=True)
    b = torch.load(os.path.join(again, "checkpoint_2.pt"), weights_only=True)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["trainer"] == b["trainer"]
    assert "Epoch[1]" not in open(os.path.join(again, "log.txt")).read()
