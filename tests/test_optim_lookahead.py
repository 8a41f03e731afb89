"""Lookahead around any optimizer: the slow/fast interpolation, state_dict round trips, and SOLVER.RESUME."""
import io
import json
import os

import pytest
import torch
from run_helpers import ROOT, SMALL, TINY_SYNTHETIC

import reid_gc.optim as gco
from reid_gc.optim import Lookahead

SHAPES = [(4, 3, 3, 3), (5, 6), (5,)]


def params_and_grads(steps):
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES] for _ in range(steps)]
    return params, grads


@pytest.mark.parametrize("inner", ["SGD", "Adam", "SGD_GCC", "Ranger_GC2", "RAdam_GC2"])
@pytest.mark.parametrize("k,alpha", [(3, 0.5), (1, 0.3), (4, 1.0)])
def test_slow_weights_every_k_steps(inner, k, alpha):
    """By hand: the inner rule alone on a copy, then after steps 1, k+1, 2k+1, ... slow += alpha*(fast - slow),
    fast = slow (slow starts as the weights after step 1)."""
    init, grads = params_and_grads(11)
    cls = gco.resolve_optimizer(inner)
    kwargs = dict(lr=0.05, momentum=0.9) if inner.startswith("SGD") else dict(lr=0.01)
    ours = [torch.nn.Parameter(p.clone()) for p in init]
    opt = Lookahead(cls([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.02}], **kwargs), k=k, alpha=alpha)
    ref = [torch.nn.Parameter(p.clone()) for p in init]
    ref_inner = cls([{"params": ref[:2]}, {"params": ref[2:], "lr": 0.02}], **kwargs)
    slow = None
    for step, gs in enumerate(grads, start=1):
        for p, q, g in zip(ours, ref, gs):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        ref_inner.step()
        if (step - 1) % k == 0:
            with torch.no_grad():
                if slow is None:
                    slow = [q.detach().clone() for q in ref]
                slow = [s + alpha * (q.detach() - s) for s, q in zip(slow, ref)]
                for q, s in zip(ref, slow):
                    q.copy_(s)
        for p, q in zip(ours, ref):
            torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-12, atol=1e-13, msg=f"step {step}")
    assert [g["counter"] for g in opt.param_groups] == [11 % k] * 2


@pytest.mark.parametrize("inner", ["Adam_GC2", "SGD", "PlainRAdam_GC"])
def test_state_dict_round_trip_mid_cycle_is_bitwise(inner):
    init, grads = params_and_grads(12)
    cls = gco.resolve_optimizer(inner)

    def build(ps):
        return Lookahead(cls([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}], lr=0.01), k=4, alpha=0.5)

    a = [torch.nn.Parameter(p.clone()) for p in init]
    opt = build(a)
    for gs in grads[:6]:  # stops between two synchronisations
        for p, g in zip(a, gs):
            p.grad = g.clone()
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert all("slow_param" in saved["state"][i] for i in range(3)) and saved["param_groups"][0]["counter"] == 2
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    resumed = build(b)
    resumed.load_state_dict(saved)
    assert resumed.param_groups is resumed.optimizer.param_groups
    for gs in grads[6:]:
        for p, q, g in zip(a, b, gs):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        resumed.step()
    for p, q in zip(a, b):
        assert torch.equal(p, q)


def test_scheduler_and_zero_grad_reach_the_inner_optimizer():
    from reid_gc.solver import WarmupMultiStepLR
    p = torch.nn.Parameter(torch.ones(3))
    opt = Lookahead(torch.optim.SGD([p], lr=0.1), k=2)
    sched = WarmupMultiStepLR(opt, (1,), 0.1, 1.0, 0)
    p.grad = torch.ones(3)
    opt.step()
    sched.step()
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    opt.zero_grad()
    assert p.grad is None


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synthetic"))


def train(out, data_root, *extra):
    from reid_gc.cli.train import main

    main(["--config_file", os.path.join(ROOT, "configs", "softmax_triplet.yml"), *SMALL, *TINY_SYNTHETIC,
               "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out, "SOLVER.MAX_EPOCHS", "2",
               "SOLVER.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.DETERMINISTIC", "yes",
               "INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]", *extra])


@pytest.mark.parametrize("opts", [["SOLVER.OPTIMIZER_NAME", "SGD_GC2", "SOLVER.BASE_LR", "0.02",
                                   "SOLVER.LOOKAHEAD_K", "3"]], ids=["SGD_GC2+Lookahead"])
def test_resume_keeps_the_slow_weights_bit_for_bit(opts, data_root, tmp_path):
    """A run resumed from its epoch-1 checkpoint (SOLVER.RESUME) ends equal to the uninterrupted run, slow
    weights and counters included (k does not divide the epoch length: the checkpoint falls mid-cycle).
    Ranger's own slow weights: test_optim_algorithm_gc.test_state_dict_round_trip_resumes_bitwise."""
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    train(full, data_root, *opts)
    os.makedirs(part)
    import shutil
    shutil.copy(os.path.join(full, "checkpoint_1.pt"), os.path.join(part, "checkpoint_1.pt"))
    train(part, data_root, *opts, "SOLVER.RESUME", os.path.join(part, "checkpoint_1.pt"))
    a = torch.load(os.path.join(full, "checkpoint_2.pt"), weights_only=True)
    b = torch.load(os.path.join(part, "checkpoint_2.pt"), weights_only=True)
    slow = [v for s in a["optimizer"]["state"].values() for k, v in s.items() if k in ("slow_param", "slow_buffer")]
    assert slow, "the optimizer state holds the slow weights"
    iterations = json.load(open(os.path.join(full, "epochs.json")))
    assert len(iterations) == 2

    def same(x, y, where):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), where
        elif isinstance(x, dict):
            assert x.keys() == y.keys(), where
            for key in x:
                same(x[key], y[key], f"{where}.{key}")
        elif isinstance(x, (list, tuple)):
            for i, (u, v) in enumerate(zip(x, y)):
                same(u, v, f"{where}[{i}]")
        else:
            assert x == y, where

    same(a["model"], b["model"], "model")
    same(a["optimizer"], b["optimizer"], "optimizer")
