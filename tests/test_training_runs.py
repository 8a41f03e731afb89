"""Runs that survive: kill and resume bitwise, a kill during a checkpoint write, a refused malicious
checkpoint, a NaN loss, AMP / channels_last / compile, and a 2-process gloo run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from run_helpers import ROOT, SMALL, TINY_SYNTHETIC, run_tool

# Deterministic, 4 epochs, a checkpoint every epoch, evaluation only at the end.
RUN = [*SMALL, *TINY_SYNTHETIC, "SOLVER.MAX_EPOCHS", "4", "SOLVER.EVAL_PERIOD", "4", "SOLVER.CHECKPOINT_PERIOD",
       "1", "SOLVER.DETERMINISTIC", "yes", "SOLVER.SEED", "3", "DATALOADER.NUM_WORKERS", "1"]
CONFIG = ["--config_file", "configs/softmax_triplet_with_center.yml"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def uninterrupted(data_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("full"))
    r = run_tool("train.py", *CONFIG, *RUN, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        elif isinstance(a[k], dict):
            assert_same_state(a[k], b[k])
        else:
            assert a[k] == b[k], k


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_then_resume_is_bitwise_equal(uninterrupted, data_root, tmp_path):
    out = str(tmp_path / "killed")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), *CONFIG, *RUN, "DATASETS.ROOT_DIR", data_root,
           "OUTPUT_DIR", out]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = os.path.join(out, "checkpoint_2.pt")
    deadline = time.time() + 300
    while not os.path.exists(target) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.exists(target), "the run never reached its second checkpoint"
    assert not os.path.exists(os.path.join(out, "checkpoint_4.pt"))
    r = run_tool("train.py", *CONFIG, *RUN, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out,
                 "SOLVER.RESUME", "auto")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stdout
    full = state(os.path.join(uninterrupted, "checkpoint_4.pt"))
    resumed = state(os.path.join(out, "checkpoint_4.pt"))
    for part in ("model", "optimizer", "center", "center_optimizer", "scheduler"):
        assert_same_state(full[part], resumed[part])
    # same evaluation, too
    m_full = json.load(open(os.path.join(uninterrupted, "metrics.json")))[-1]
    m_resumed = json.load(open(os.path.join(out, "metrics.json")))[-1]
    assert m_full["mAP"] == m_resumed["mAP"] and m_full["cmc"] == m_resumed["cmc"]


KILL_DURING_SAVE = r"""
import os, signal, sys, torch
from ignite.engine import Engine
from ignite.handlers import Checkpoint
from reid_gc.engine.checkpoints import SafeDiskSaver
out = sys.argv[1]
model = torch.nn.Linear(200, 200)
engine = Engine(lambda e, b: None)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
ckpt = Checkpoint({"model": model, "optimizer": opt}, SafeDiskSaver(out), n_saved=1,
                  global_step_transform=lambda e, _: e.state.epoch)
engine.state.epoch = 1
ckpt(engine)
real_save = torch.save
def dying_save(obj, f, *a, **k):
    with open(f, "wb") as fh:
        fh.write(b"half a checkpoint")
        fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
engine.state.epoch = 2
ckpt(engine)
"""


def test_kill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    from reid_gc.config import load_config
    from reid_gc.engine.checkpoints import find_resume
    from reid_gc.utils.run_dir import RunDir

    r = subprocess.run([sys.executable, "-c", KILL_DURING_SAVE, str(tmp_path)], cwd=ROOT, capture_output=True)
    assert r.returncode == -signal.SIGKILL
    # the previous checkpoint is still there (n_saved=1 would have removed it first in plain ignite)
    assert [e for e, _ in RunDir(str(tmp_path)).checkpoints()] == [1]
    cfg = load_config("", ["OUTPUT_DIR", str(tmp_path), "SOLVER.RESUME", "auto"])
    resume = find_resume(cfg)
    assert resume.path.endswith("checkpoint_1.pt")
    assert "model" in resume.state


class Payload:
    def __reduce__(self):
        return (open, (os.environ["MARKER"], "w"))


def test_malicious_checkpoint_is_refused_on_resume(data_root, tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    out.mkdir()
    os.environ["MARKER"] = str(marker)
    try:
        with open(out / "checkpoint_3.pt", "wb") as f:
            pickle.dump({"model": Payload()}, f)
    finally:
        del os.environ["MARKER"]
    r = run_tool("train.py", *CONFIG, *RUN, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", str(out),
                 "SOLVER.RESUME", "auto")
    assert r.returncode == 2
    assert "refused" in r.stderr and "checkpoint_3.pt" in r.stderr
    assert not marker.exists()


def test_nan_loss_stops_with_epoch_and_iteration(tmp_path):
    from reid_gc.engine.train_step import NonFiniteLossError, create_trainer

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    calls = []

    def loss_fn(score, feat, target):
        calls.append(1)
        loss = torch.nn.functional.cross_entropy(score, target)
        return (loss * float("nan") if len(calls) == 7 else loss), {}

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x):
            out = self.m(x)
            return out, out

    net = Wrap()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer, _ = create_trainer(net, loss_fn, opt, torch.device("cpu"), augment=lambda x, g: x.float())
    batches = [(torch.randn(4, 3, 2, 2), torch.randint(0, 3, (4,)), torch.zeros(4), torch.arange(4))] * 5
    with pytest.raises(NonFiniteLossError, match="became nan at epoch 2, iteration 7"):
        trainer.run(batches, max_epochs=3)
    before = [p.clone() for p in net.parameters()]
    assert all(torch.isfinite(p).all() for p in before)  # the bad step was never applied


# Every fast path is compared with the default path on the same data, images and seed. float16 is slow on
# CPUs: it runs on smaller images (against a default run of that size). SOLVER.LOG_PERIOD 1 logs iteration 1's
# own loss: the same weights and batch in every run, so it differs only by the arithmetic.
FAST = [*CONFIG, *SMALL, *TINY_SYNTHETIC, "SOLVER.MAX_EPOCHS", "2", "SOLVER.EVAL_PERIOD", "2",
        "SOLVER.DETERMINISTIC", "yes", "SOLVER.LOG_PERIOD", "1"]
SIZES = {"64x32": ["INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]"],
         "32x16": ["INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]"]}


def _fast_run(data_root, out, *opts):
    r = run_tool("train.py", *FAST, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out, *opts)
    assert r.returncode == 0, r.stderr[-3000:]
    log = open(os.path.join(out, "log.txt")).read()
    first = float(log.split("Epoch[1] Iteration[1/")[1].split("Loss: ")[1].split(",")[0])
    return first, json.load(open(os.path.join(out, "epochs.json"))), json.load(open(os.path.join(out, "metrics.json")))


@pytest.fixture(scope="module")
def default_runs(data_root, tmp_path_factory):
    runs = {}

    def get(size):
        if size not in runs:
            runs[size] = _fast_run(data_root, str(tmp_path_factory.mktemp("default")), *SIZES[size])
        return runs[size]
    return get


# (first-iteration loss tolerance, epoch-mean tolerance, final mAP tolerance), relative / relative / absolute.
# channels_last and compile reorder float32 sums: round-off only, growing a little over 8 steps. bf16 / fp16
# keep 8 / 11 mantissa bits in the activations, and fp16's GradScaler skips steps while it finds its scale, so
# their trajectories part more; their mAP on 18 queries after 2 epochs is not compared.
@pytest.mark.slow
@pytest.mark.parametrize("opts, size, tol", [
    (["SOLVER.AMP", "bf16"], "64x32", (0.02, 0.2, None)),
    (["SOLVER.AMP", "fp16"], "32x16", (0.01, 0.2, None)),
    (["MODEL.CHANNELS_LAST", "yes"], "64x32", (1e-3, 1e-2, 0.1)),
    (["MODEL.COMPILE", "yes"], "64x32", (1e-3, 1e-2, 0.1)),
], ids=["bf16", "fp16", "channels_last", "compile"])
def test_fast_paths_train_like_the_default_path(opts, size, tol, default_runs, data_root, tmp_path):
    first, epochs, metrics = _fast_run(data_root, str(tmp_path / "o"), *SIZES[size], *opts)
    base_first, base_epochs, base_metrics = default_runs(size)
    assert first == pytest.approx(base_first, rel=tol[0], abs=1e-3)  # the log prints 3 decimals
    assert [e["epoch"] for e in epochs] == [1, 2]
    for got, want in zip(epochs, base_epochs):
        assert got["loss"] == pytest.approx(want["loss"], rel=tol[1])
        assert got["lr"] == want["lr"]
    if tol[2] is not None:
        assert metrics[-1]["mAP"] == pytest.approx(base_metrics[-1]["mAP"], abs=tol[2])
    assert os.path.isfile(os.path.join(str(tmp_path / "o"), "curves.png"))


@pytest.mark.slow
@pytest.mark.distributed
def test_two_process_gloo_run_evaluates_like_one_process(data_root, tmp_path):
    out = str(tmp_path / "ddp")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           os.path.join(ROOT, "tools", "train.py"), *CONFIG, *SMALL, *TINY_SYNTHETIC, "DATASETS.ROOT_DIR",
           data_root, "OUTPUT_DIR", out, "SOLVER.MAX_EPOCHS", "2", "SOLVER.EVAL_PERIOD", "2"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    log = open(os.path.join(out, "log.txt")).read()
    assert "2 process(es)" in log
    ddp_eval = json.load(open(os.path.join(out, "metrics.json")))[-1]
    r = run_tool("test.py", *CONFIG, *SMALL, *TINY_SYNTHETIC, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out,
                 "TEST.WEIGHT", os.path.join(out, "checkpoint_2.pt"))
    assert r.returncode == 0, r.stderr[-3000:]
    single = json.load(open(os.path.join(out, "metrics.json")))[-1]
    assert single["source"] == "test"
    assert single["num_queries"] == ddp_eval["num_queries"]
    assert single["mAP"] == pytest.approx(ddp_eval["mAP"], abs=1e-6)
    assert single["cmc"] == pytest.approx(ddp_eval["cmc"], abs=1e-6)
