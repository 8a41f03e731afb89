import pytest
import torch

from reid_gc.config import load_config
from reid_gc.solver import WarmupMultiStepLR, make_optimizer, param_groups


def lr_by_hand(epoch, base=0.1, steps=(4, 7), gamma=0.1, wf=0.01, wi=3, method="linear"):
    if epoch < wi:
        w = wf if method == "constant" else wf * (1 - epoch / wi) + epoch / wi
    else:
        w = 1.0
    decays = sum(1 for s in steps if s <= epoch)
    return base * w * gamma ** decays


@pytest.mark.parametrize("method", ["linear", "constant"])
def test_warmup_multistep_per_epoch(method):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.2}])
    sched = WarmupMultiStepLR(opt, (4, 7), 0.1, 0.01, 3, method)
    # epoch 0: 0.1 * 0.01; epoch 1 (linear): 0.1 * (0.01 * 2/3 + 1/3) = 0.034; epoch 4: 0.1 * 0.1
    hand = {0: 0.001, 1: 0.1 * (0.01 * 2 / 3 + 1 / 3), 4: 0.01, 7: 0.001} if method == "linear" else \
        {0: 0.001, 2: 0.001, 3: 0.1, 6: 0.01, 7: 0.001}
    for epoch in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(lr_by_hand(epoch, method=method))
        assert opt.param_groups[1]["lr"] == pytest.approx(lr_by_hand(epoch, base=0.2, method=method))
        if epoch in hand:
            assert opt.param_groups[0]["lr"] == pytest.approx(hand[epoch])
        opt.step()
        sched.step()


def test_scheduler_state_round_trip():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = WarmupMultiStepLR(opt, (4, 7), 0.1, 0.01, 3)
    for _ in range(5):
        opt.step()
        sched.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    sched2 = WarmupMultiStepLR(opt2, (4, 7), 0.1, 0.01, 3)
    sched2.load_state_dict(sched.state_dict())
    for _ in range(4):
        opt.step(), sched.step(), opt2.step(), sched2.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm1d(4)
        self.bn.bias.requires_grad_(False)  # like the BNNeck
        self.fc = torch.nn.Linear(4, 2, bias=False)


def test_param_groups_by_lr_and_weight_decay():
    cfg = load_config("", ["SOLVER.BASE_LR", "0.03", "SOLVER.BIAS_LR_FACTOR", "2", "SOLVER.WEIGHT_DECAY", "0.002",
                           "SOLVER.WEIGHT_DECAY_BIAS", "0.0"])
    m = Tiny()
    groups = param_groups(cfg, m)
    assert len(groups) == 2
    weights, biases = groups
    assert {id(p) for p in weights["params"]} == {id(m.conv.weight), id(m.bn.weight), id(m.fc.weight)}
    assert (weights["lr"], weights["weight_decay"]) == (0.03, 0.002)
    assert [id(p) for p in biases["params"]] == [id(m.conv.bias)]  # the frozen BN bias is left out
    assert (biases["lr"], biases["weight_decay"]) == (0.06, 0.0)


def test_make_optimizer_names():
    m = Tiny()
    opt, center_opt = make_optimizer(load_config("", ["SOLVER.OPTIMIZER_NAME", "SGD", "SOLVER.MOMENTUM", "0.8"]), m)
    assert type(opt) is torch.optim.SGD and opt.param_groups[0]["momentum"] == 0.8 and center_opt is None
    opt, _ = make_optimizer(load_config("", ["SOLVER.OPTIMIZER_NAME", "AdamW"]), m)
    assert type(opt) is torch.optim.AdamW
    from reid_gc.utils.errors import UserError
    with pytest.raises(UserError, match="SOLVER.OPTIMIZER_NAME"):
        make_optimizer(load_config("", ["SOLVER.OPTIMIZER_NAME", "Sgd"]), m)
    center = torch.nn.Linear(2, 2)
    _, center_opt = make_optimizer(load_config("", ["SOLVER.CENTER_LR", "0.5"]), m, center)
    assert type(center_opt) is torch.optim.SGD and center_opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("opts, expected", [
    (["SOLVER.LOOKAHEAD_ALPHA", "1.5"], "config key SOLVER.LOOKAHEAD_ALPHA must lie in [0, 1], got 1.5"),
    (["SOLVER.LOOKAHEAD_ALPHA", "-0.1"], "config key SOLVER.LOOKAHEAD_ALPHA must lie in [0, 1], got -0.1"),
    (["SOLVER.LOOKAHEAD_K", "-1"], "config key SOLVER.LOOKAHEAD_K must be an integer >= 0 (0 = off), got -1"),
    (["SOLVER.GRAD_CLIP", "-2"], "config key SOLVER.GRAD_CLIP must be >= 0"),
    (["SOLVER.BETAS", "[0.9, 1.0]"], "config key SOLVER.BETAS must be two numbers in [0, 1)"),
    (["SOLVER.BETAS", "[-0.1, 0.9]"], "config key SOLVER.BETAS must be two numbers in [0, 1)"),
    (["SOLVER.BETAS", "[0.9]"], "config key SOLVER.BETAS must be two numbers in [0, 1)"),
    (["SOLVER.EPS", "-0.5"], "config key SOLVER.EPS must be >= 0"),
    (["SOLVER.WEIGHT_DECAY", "-0.1"], "config key SOLVER.WEIGHT_DECAY must be 0 or more"),
    (["SOLVER.OPTIMIZER_NAME", "Ranger_GC2", "SOLVER.WEIGHT_DECAY_BIAS", "-1"],
     "config key SOLVER.WEIGHT_DECAY_BIAS must be 0 or more"),
    (["SOLVER.OPTIMIZER_NAME", "LBFGS"], "SOLVER.OPTIMIZER_NAME LBFGS cannot train a re-id model: it needs a closure"),
    (["SOLVER.OPTIMIZER_NAME", "SparseAdam"], "SparseAdam cannot train a re-id model: it takes sparse gradients"),
    (["SOLVER.OPTIMIZER_NAME", "Muon_GC2"], "Muon_GC2 cannot train a re-id model: it updates 2-D parameters only"),
    (["SOLVER.OPTIMIZER_NAME", "Muon"], "Muon cannot train a re-id model"),
    (["SOLVER.DEGENERATED_TO_SGD", "maybe"], "SOLVER.DEGENERATED_TO_SGD is 'maybe'; accepted values: yes, no"),
])
def test_solver_keys_refused_in_one_line(opts, expected):
    from reid_gc.utils.errors import UserError
    with pytest.raises(UserError) as e:
        load_config("", opts)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_a_bad_solver_key_exits_2_with_one_line(tmp_path):
    from run_helpers import run_tool
    r = run_tool("train.py", "SOLVER.LOOKAHEAD_ALPHA", "2", "OUTPUT_DIR", str(tmp_path / "o"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "SOLVER.LOOKAHEAD_ALPHA must lie in [0, 1]" in lines[0]
    assert not (tmp_path / "o").exists()


def test_momentum_betas_and_flags_follow_declared_capabilities():
    import reid_gc.optim as gco
    from reid_gc.optim import Lookahead, capabilities
    m = Tiny()

    def build(*opts):
        return make_optimizer(load_config("", ["SOLVER.MOMENTUM", "0.7", *opts]), m)[0]

    # momentum is declared by the SGD rules only (torch's SGD, the fixed family, and wrapped SGD)
    assert [capabilities(c).momentum for c in (torch.optim.SGD, gco.SGD_GCC, gco.SGDW, gco.resolve_optimizer("SGD_GC2"),
                                               torch.optim.RMSprop, gco.Ranger_GC, gco.Adam_GC)] == \
        [True, True, True, True, False, False, False]
    assert build("SOLVER.OPTIMIZER_NAME", "SGD_GC2").param_groups[0]["momentum"] == 0.7
    assert build("SOLVER.OPTIMIZER_NAME", "RMSprop_GC").param_groups[0]["momentum"] == 0  # torch's default
    # betas / eps: the optimizer's own unless set
    assert build("SOLVER.OPTIMIZER_NAME", "Ranger_GC2").param_groups[0]["betas"] == (0.95, 0.999)
    assert build("SOLVER.OPTIMIZER_NAME", "Ranger_GC2").param_groups[0]["eps"] == 1e-5
    opt = build("SOLVER.OPTIMIZER_NAME", "Adam_GC", "SOLVER.BETAS", "[0.8, 0.99]", "SOLVER.EPS", "1e-6")
    assert opt.param_groups[0]["betas"] == (0.8, 0.99) and opt.param_groups[0]["eps"] == 1e-6
    assert build("SOLVER.OPTIMIZER_NAME", "RAdam_GC2", "SOLVER.BETAS", "[0.8, 0.99]").param_groups[0]["betas"] == \
        (0.8, 0.99)
    assert build("SOLVER.OPTIMIZER_NAME", "PlainRAdam_GC2").param_groups[0]["degenerated_to_sgd"] is True
    assert build("SOLVER.OPTIMIZER_NAME", "PlainRAdam", "SOLVER.DEGENERATED_TO_SGD", "no").param_groups[0][
        "degenerated_to_sgd"] is False
    # Lookahead: a wrapper around any optimizer; Ranger's own Lookahead takes K and ALPHA instead
    opt = build("SOLVER.OPTIMIZER_NAME", "Adam", "SOLVER.LOOKAHEAD_K", "3", "SOLVER.LOOKAHEAD_ALPHA", "0.25")
    assert isinstance(opt, Lookahead) and type(opt.optimizer) is torch.optim.Adam and (opt.k, opt.alpha) == (3, 0.25)
    opt = build("SOLVER.OPTIMIZER_NAME", "Ranger_GC", "SOLVER.LOOKAHEAD_K", "3", "SOLVER.LOOKAHEAD_ALPHA", "0.25")
    assert type(opt) is gco.Ranger_GC and (opt.param_groups[0]["k"], opt.param_groups[0]["alpha"]) == (3, 0.25)
    assert type(build("SOLVER.OPTIMIZER_NAME", "Adam")) is torch.optim.Adam  # LOOKAHEAD_K 0: off
