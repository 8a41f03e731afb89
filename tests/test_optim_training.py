"""Every GC optimizer trains through tools/train.py: the loss falls on the synthetic dataset, and where the
rule centralizes the change of the weights (_GC2/_GCC2, and SGD's _GC/_GCC) every applied update has zero
row means on the tensors GC applies to, while optimizers without GC move them (so the check can fail).
Gradient clipping (SOLVER.GRAD_CLIP) is applied to the gradients the optimizer steps with, AMP included."""
import importlib
import importlib.util
import json
import os

import pytest
import torch
from run_helpers import ROOT, SMALL, TINY_SYNTHETIC

from reid_gc.optim import gc_applies, optimizer_names

FIXED = [n for n in optimizer_names() if "<" not in n]
ORIGINAL = ["SGD_GC", "SGD_GCC", "SGDW", "SGDW_GC", "SGDW_GCC", "Adam_GC", "Adam_GCC", "Adam_GC2", "Adam_GCC2",
            "AdamW", "AdamW_GC", "AdamW_GCC", "AdamW_GC2", "AdamW_GCC2", "Adagrad_GC", "Adagrad_GCC"]
# Issue 10's names: the GC authors' rules, GC on the update of torch optimizers, Lookahead by config.
NEW = ["Ranger", "Ranger_GC", "Ranger_GCC2", "PlainRAdam_GC2", "RAdam_GC2", "SGD_GC2", "NAdam_GCC2",
       "Adam_GC2+lookahead"]
# Learning rates that suit each rule on a network trained from scratch (PlainRAdam squares its lr, as published).
LR = {"SGD": "0.02", "Adam": "0.001", "AdamW": "0.001", "Adagrad": "0.01", "PlainRAdam": "0.03", "Ranger": "0.002"}
# PlainRAdam's published first steps write wd*p into exp_avg; with eps 1e-8 the first rectified step then
# divides it by the tiny sqrt(v) of near-zero conv gradients (m/sqrt(v) ~ 1e4 measured on ResNet-18 from
# scratch) and the loss jumps: it trains with Ranger's eps, 1e-5.
EXTRA = {"PlainRAdam": ["SOLVER.EPS", "1e-5"]}
# Names whose every applied change has zero row means where GC applies.
CENTRED_UPDATE = ("_GC2", "_GCC2")
# A ResNet-18 from scratch under batch-hard triplet: an epoch's mean loss (4 batches) swings by ~0.5 from
# epoch to epoch, so 4 epochs could not show a fall for NAdam_GCC2 (6.59, 6.93, 6.44, 6.88); by 8 epochs every
# name's last two epochs average at least 0.9 below its first two (measured on torch 2.14).
EPOCHS = 8


def load_train_tool():
    """The module behind tools/train.py and `reid-gc train`."""
    return importlib.import_module("reid_gc.cli.train")


def training_module():
    """The module whose make_optimizer builds the run's optimizer."""
    return importlib.import_module("reid_gc.engine.training")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synthetic"))


def test_the_family_is_complete():
    assert sorted(ORIGINAL + ["SGD_GC2", "SGD_GCC2"]) == sorted(n for n in FIXED
                                                             if not n.startswith(("Ranger", "PlainRAdam")))
    assert len(FIXED) == 28


def mode_of(name):
    if name in ("SGD", "Adam", "Ranger", "PlainRAdam") or name.startswith(("SGDW", "AdamW")) and "_GC" not in name:
        return None
    return "gcc" if "_GCC" in name else "gc"


class UpdateRecorder:
    """Step hooks on the run's optimizer: the largest |row mean of p_after - p_before| relative to the largest
    |p_after - p_before| over the tensors the name's GC mode selects, over every step."""

    def __init__(self, mode):
        self.mode, self.worst, self.steps, self.before = mode or "gc", 0.0, 0, None

    def attach(self, optimizer):
        optimizer.register_step_pre_hook(self.pre)
        optimizer.register_step_post_hook(self.post)

    def tensors(self, optimizer):
        return [p for g in optimizer.param_groups for p in g["params"] if gc_applies(p, self.mode)]

    def pre(self, optimizer, args, kwargs):
        self.before = [p.detach().clone() for p in self.tensors(optimizer)]

    def post(self, optimizer, args, kwargs):
        self.steps += 1
        for p, old in zip(self.tensors(optimizer), self.before):
            change = (p.detach() - old).double()
            means = change.reshape(change.shape[0], -1).mean(dim=1).abs().max()
            self.worst = max(self.worst, (means / change.abs().max().clamp_min(1e-30)).item())


def train(name, data_root, out, monkeypatch, *extra):
    base, _, lookahead = name.partition("+")
    family = "Ranger" if base.startswith("Ranger") else "PlainRAdam" if base.startswith("PlainRAdam") else \
        "AdamW" if base.startswith("AdamW") else base.split("_")[0].rstrip("W")
    recorder = UpdateRecorder(mode_of(base))
    module = training_module()
    real = module.make_optimizer

    def recording_make_optimizer(*args, **kwargs):
        optimizer, center = real(*args, **kwargs)
        recorder.attach(optimizer)
        return optimizer, center

    monkeypatch.setattr(module, "make_optimizer", recording_make_optimizer)
    load_train_tool().main(["--config_file", os.path.join(ROOT, "configs", "softmax_triplet.yml"), *SMALL,
                            *TINY_SYNTHETIC, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out,
                            "SOLVER.OPTIMIZER_NAME", base, "SOLVER.BASE_LR", LR.get(family, "0.001"),
                            "SOLVER.MAX_EPOCHS", str(EPOCHS), "SOLVER.EVAL_PERIOD", str(EPOCHS),
                            "SOLVER.CHECKPOINT_PERIOD", str(EPOCHS),
                            "SOLVER.WARMUP_ITERS", "0", "INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]",
                            # no random erasing: at 32x16 its rectangles cover so much of 8 epochs' few images
                            # that the loss says more about the draws than about the optimizer
                            "INPUT.RE_PROB", "0",
                            *(["SOLVER.LOOKAHEAD_K", "3"] if lookahead else []), *EXTRA.get(family, []), *extra])
    losses = [e["loss"] for e in json.load(open(os.path.join(out, "epochs.json")))]
    return losses, recorder


@pytest.mark.parametrize("name", ORIGINAL + ["RAdam_GCC"] + NEW)
def test_training_with_each_optimizer_lowers_the_loss(name, data_root, tmp_path, monkeypatch):
    losses, recorder = train(name, data_root, str(tmp_path / "run"), monkeypatch)
    assert len(losses) == EPOCHS
    assert sum(losses[-2:]) < sum(losses[:2]), losses
    assert recorder.steps > 0
    base = name.partition("+")[0]
    if base.endswith(CENTRED_UPDATE) or base in ("SGD_GC", "SGD_GCC"):
        # Lookahead's interpolation mixes centred changes only, so it keeps the means too
        assert recorder.worst < 1e-4, f"{name}: an update moved a row mean ({recorder.worst:.2e})"


@pytest.mark.parametrize("name", ["SGD", "Ranger"])
def test_without_gc_the_row_means_move(name, data_root, tmp_path, monkeypatch):
    _, recorder = train(name, data_root, str(tmp_path / "run"), monkeypatch, "SOLVER.MAX_EPOCHS", "1",
                        "SOLVER.EVAL_PERIOD", "1", "SOLVER.CHECKPOINT_PERIOD", "1")
    assert recorder.worst > 1e-2, recorder.worst


@pytest.mark.parametrize("amp", ["no", "fp16"])
def test_grad_clip_bounds_the_gradients_the_optimizer_steps_with(amp):
    """The step clips the (unscaled) gradients to SOLVER.GRAD_CLIP's global norm before optimizer.step."""
    step_module = importlib.import_module("reid_gc.engine.train_step")

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(12, 3)

        def forward(self, x):
            out = self.fc(x.flatten(1))
            return out, out

    net = Net()
    seen = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen.append(torch.cat([p.grad.flatten() for g in self.param_groups for p in g["params"]]).clone())
            return super().step(closure)

    def loss_fn(score, feat, target):
        # small enough for fp16 at the scaler's first scale (2**16)
        return 0.25 * torch.nn.functional.cross_entropy(score.float(), target), {}

    imgs = torch.randint(0, 255, (4, 3, 2, 2), dtype=torch.uint8)
    pids = torch.tensor([0, 1, 2, 0])
    reference = Net()
    reference.load_state_dict(net.state_dict())
    opt = Spy(net.parameters(), lr=0.0)
    trainer, _ = step_module.create_trainer(net, loss_fn, opt, torch.device("cpu"), lambda x, g: x.float() / 255,
                                            amp=amp, grad_clip=0.01)
    trainer.run([(imgs, pids, None, None)], max_epochs=1)
    out, _ = reference(imgs.float() / 255)
    loss_fn(out, None, pids)[0].backward()
    full = torch.cat([p.grad.flatten() for p in reference.parameters()])
    assert full.norm() > 0.05  # clipping has work to do
    assert len(seen) == 1
    torch.testing.assert_close(seen[0], full * (0.01 / full.norm()), rtol=2e-2 if amp == "fp16" else 1e-4, atol=1e-5)
