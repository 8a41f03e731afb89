"""reid_gc.optim.algorithm_gc against float64 statements of the GC authors' algorithm-GC rules (issue 10).

Each reference below restates the published step for one tensor, side effects included: the gradient
centralized in p.grad's own storage where the published step does so, and the first steps of RAdam,
PlainRAdam and Ranger working in exp_avg's storage (weight decay and GC then change the running average).
"""
import io
import math
import sys

import pytest
import torch
from torch.optim.optimizer import required

from reid_gc.optim import algorithm_gc as agc

STEPS = 24
# Two groups: a conv, an fc and a norm weight (weight decay as the case says); a bias and a 1x1 conv (no decay).
SHAPES = [[(4, 3, 3, 3), (5, 6), (5,)], [(5,), (2, 4, 1, 1)]]
SKIPPED = {(3, 1, 0), (9, 0, 1)}  # (step, group, index) without a gradient: own step count from then on


def gc_ref(x, use_gc, conv_only):
    """The published centralized_gradient, returning the new value."""
    if use_gc and x.dim() > (3 if conv_only else 1):
        return x - x.reshape(x.shape[0], -1).mean(dim=1).reshape((-1,) + (1,) * (x.dim() - 1))
    return x


def n_sma(t, beta2):
    n_max = 2 / (1 - beta2) - 1
    return n_max, n_max - 2 * t * beta2 ** t / (1 - beta2 ** t)


def ref_step(name, p, grad, st, h, sw):
    """One published step; returns (new p, new p.grad). `st` holds m, v, buf, slow, t."""
    use_gc, conv_only, gc_loc = sw.get("use_gc", False), sw.get("gc_conv_only", False), sw.get("gc_loc")
    lr, wd = h["lr"], h["weight_decay"]
    st["t"] = t = st.get("t", 0) + 1
    if name == "SGD":
        m = h.get("momentum", 0)
        d = grad + wd * p if wd else grad
        if m:
            st["buf"] = d.clone() if t == 1 else m * st["buf"] + d
            if h.get("nesterov"):
                d = d + m * st["buf"]
            else:
                st["buf"] = gc_ref(st["buf"], use_gc, conv_only)  # d is the buffer: centralized in place
                d = st["buf"]
        new_d = gc_ref(d, use_gc, conv_only)
        if not m and not wd:
            grad = new_d  # d was p.grad itself
        return p - lr * new_d, grad
    b1, b2 = h.get("betas", (0.95, 0.999) if name == "Ranger" else (0.9, 0.999))
    eps = h.get("eps", 1e-5 if name == "Ranger" else 1e-8)
    m, v = st.get("m", torch.zeros_like(p)), st.get("v", torch.zeros_like(p))
    if name in ("Adam", "AdamW"):
        g = grad + wd * p if (wd and name == "Adam") else grad
        if gc_loc:
            g = gc_ref(g, use_gc, conv_only)
            if name == "AdamW" or not wd:
                grad = g
        st["m"], st["v"] = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        denom = st["v"].sqrt() / math.sqrt(1 - b2 ** t) + eps
        big_g = st["m"] / denom + (wd * p if name == "AdamW" else 0)
        if not gc_loc:
            big_g = gc_ref(big_g, use_gc, conv_only)
        return p - lr / (1 - b1 ** t) * big_g, grad
    # RAdam, PlainRAdam, Ranger
    if name == "Ranger" and "slow" not in st:
        st["slow"] = p.clone()
    g = gc_ref(grad, use_gc, conv_only) if gc_loc else grad
    grad = g
    st["m"], st["v"] = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    n_max, n = n_sma(t, b2)
    rectified = n > h.get("N_sma_threshhold", 5) if name == "Ranger" else n >= 5
    if rectified:
        size = math.sqrt((1 - b2 ** t) * (n - 4) / (n_max - 4) * (n - 2) / n * n_max / (n_max - 2)) / (1 - b1 ** t)
        big_g = st["m"] / (st["v"].sqrt() + eps)
    elif name == "Ranger" or h.get("degenerated_to_sgd", True):
        size = 1 / (1 - b1 ** t)
        big_g = st["m"]
    else:
        return p, grad  # no update (the published code has none defined here)
    if wd:
        big_g = big_g + wd * p
    if not gc_loc:
        big_g = gc_ref(big_g, use_gc, conv_only)
    if not rectified:
        st["m"] = big_g  # the published step wrote into exp_avg
    step = size * lr * (lr if name == "PlainRAdam" else 1)
    p = p - step * big_g
    if name == "Ranger" and t % h.get("k", 6) == 0:
        st["slow"] = st["slow"] + h.get("alpha", 0.5) * (p - st["slow"])
        p = st["slow"].clone()
    return p, grad


SWITCHES = [dict(use_gc=False), dict(use_gc=True, gc_conv_only=False, gc_loc=False),
            dict(use_gc=True, gc_conv_only=True, gc_loc=False), dict(use_gc=True, gc_conv_only=False, gc_loc=True)]
CASES = [
    ("SGD", dict(lr=0.05)), ("SGD", dict(lr=0.05, momentum=0.9)), ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3, amsgrad=False)),
    ("AdamW", dict(lr=0.01)),
    ("RAdam", dict(lr=0.02)), ("RAdam", dict(lr=0.02, degenerated_to_sgd=False)),
    ("PlainRAdam", dict(lr=0.15)),
    ("Ranger", dict(lr=0.02)), ("Ranger", dict(lr=0.02, k=4, alpha=0.6, N_sma_threshhold=4, betas=(0.9, 0.99))),
]


def make_params():
    gen = torch.Generator().manual_seed(0)
    return [[torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in shapes]
            for shapes in SHAPES]


def gradients():
    gen = torch.Generator().manual_seed(1)
    return [[[None if (k, i, j) in SKIPPED else torch.randn(s, generator=gen, dtype=torch.float64)
              for j, s in enumerate(shapes)] for i, shapes in enumerate(SHAPES)] for k in range(STEPS)]


def build(name, params, hyper, switches, wd, foreach):
    sw = {k: v for k, v in switches.items() if name != "SGD" or k != "gc_loc"}
    if name == "SGD" or "gc_loc" not in switches:
        sw.pop("gc_loc", None)
    lr = hyper["lr"]
    groups = [dict(params=params[0], weight_decay=wd, lr=lr), dict(params=params[1], weight_decay=0.0, lr=2 * lr)]
    extra = {k: v for k, v in hyper.items() if k != "lr"}
    return getattr(agc, name)(groups, lr=lr, foreach=foreach, **extra, **sw)


def published_switches(name, switches):
    """The switches the published constructor ends up with (its defaults where not given)."""
    out = dict(switches)
    if "gc_loc" not in out:
        out["gc_loc"] = name == "AdamW"
    return out


@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("wd", [0.0, 0.03], ids=["wd0", "wd"])
@pytest.mark.parametrize("switches", SWITCHES, ids=["nogc", "gc-update", "gcc-update", "gc-grad"])
@pytest.mark.parametrize("name,hyper", CASES, ids=[f"{n}{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_the_published_rule(name, hyper, switches, wd, foreach):
    params = make_params()
    opt = build(name, params, hyper, switches, wd, foreach)
    sw = published_switches(name, switches)
    ref = [[p.detach().clone() for p in group] for group in params]
    states = [[{} for _ in group] for group in params]
    for k, step_grads in enumerate(gradients()):
        for group, gs in zip(params, step_grads):
            for p, g in zip(group, gs):
                p.grad = None if g is None else g.clone()
        opt.step()
        for i, group in enumerate(params):
            h = dict(hyper, weight_decay=wd if i == 0 else 0.0, lr=hyper["lr"] * (1 if i == 0 else 2))
            for j, p in enumerate(group):
                g = step_grads[i][j]
                if g is None:
                    continue
                ref[i][j], expected_grad = ref_step(name, ref[i][j], g, states[i][j], h, sw)
                where = f"step {k + 1}, tensor {i}.{j}"
                torch.testing.assert_close(p.detach(), ref[i][j], rtol=1e-9, atol=1e-12, msg=where)
                torch.testing.assert_close(p.grad, expected_grad, rtol=1e-9, atol=1e-12, msg="p.grad, " + where)
                if "m" in states[i][j]:
                    torch.testing.assert_close(opt.state[p]["exp_avg"], states[i][j]["m"], rtol=1e-9, atol=1e-12,
                                               msg="exp_avg, " + where)


def test_the_first_steps_switch_update_forms_where_published():
    """RAdam's N_t passes 5 at step 6 with beta2 = 0.999: the references above cover both forms."""
    assert [n_sma(t, 0.999)[1] >= 5 for t in range(1, 8)] == [False] * 5 + [True] * 2
    assert n_sma(1, 0.999)[1] == pytest.approx(1.0)


def test_published_defaults():
    import inspect

    def sig(cls):
        return {k: v.default for k, v in inspect.signature(cls).parameters.items() if k not in ("params", "foreach")}

    assert sig(agc.SGD) == dict(lr=required, momentum=0, dampening=0, weight_decay=0,
                                nesterov=False, use_gc=False, gc_conv_only=False)
    assert sig(agc.Adam) == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, use_gc=False,
                                 gc_conv_only=False, gc_loc=False)
    assert sig(agc.AdamW) == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                                  use_gc=False, gc_conv_only=False, gc_loc=True)
    for cls in (agc.RAdam, agc.PlainRAdam):
        assert sig(cls) == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, degenerated_to_sgd=True,
                                use_gc=False, gc_conv_only=False, gc_loc=False)
    assert sig(agc.Ranger) == dict(lr=1e-3, alpha=0.5, k=6, N_sma_threshhold=5, betas=(.95, 0.999), eps=1e-5,
                                   weight_decay=0, use_gc=False, gc_conv_only=False, gc_loc=False)
    assert sig(agc.Lookahead) == dict(optimizer=inspect.Parameter.empty, k=5, alpha=0.5)
    with pytest.raises(ValueError, match="lookahead steps"):
        agc.Ranger([torch.nn.Parameter(torch.zeros(2))], k=0)
    with pytest.raises(ValueError, match="slow update rate"):
        agc.Lookahead(agc.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1), alpha=1.5)
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        agc.SGD([torch.nn.Parameter(torch.zeros(2))])


@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("name,hyper", [("Ranger", dict(lr=0.02, k=4)), ("RAdam", dict(lr=0.02)),
                                        ("SGD", dict(lr=0.05, momentum=0.9)), ("AdamW", dict(lr=0.01))])
def test_state_dict_round_trip_resumes_bitwise(name, hyper, foreach):
    switches = dict(use_gc=True, gc_conv_only=False) if name == "SGD" else dict(use_gc=True, gc_loc=False)
    grads = gradients()
    params = make_params()
    opt = build(name, params, hyper, switches, 0.03, foreach)
    for k in range(7):
        for group, gs in zip(params, grads[k]):
            for p, g in zip(group, gs):
                p.grad = None if g is None else g.clone()
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    resumed_params = [[torch.nn.Parameter(p.detach().clone()) for p in group] for group in params]
    resumed = build(name, resumed_params, hyper, switches, 0.03, foreach)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    for k in range(7, STEPS):
        for ps in (params, resumed_params):
            for group, gs in zip(ps, grads[k]):
                for p, g in zip(group, gs):
                    p.grad = None if g is None else g.clone()
        opt.step()
        resumed.step()
    for a, b in zip(sum(params, []), sum(resumed_params, [])):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name,hyper", CASES[::2], ids=[n for n, _ in CASES[::2]])
def test_foreach_path_with_means_batched_as_on_a_gpu(name, hyper, monkeypatch):
    from reid_gc.optim import centralization
    monkeypatch.setattr(centralization, "BATCH_ON_CPU", True)
    monkeypatch.setattr(sys.modules[__name__], "SHAPES", [[(4, 3, 3, 3), (5, 6), (5,), (4, 3, 3, 3), (5, 6)],
                                                          [(5,), (2, 4, 1, 1), (2, 4, 1, 1)]])  # shapes repeat
    for switches in SWITCHES[1:]:
        test_matches_the_published_rule(name, hyper, switches, 0.03, True)


def test_pickle_keeps_the_switches():
    import pickle
    p = torch.nn.Parameter(torch.randn(3, 4, dtype=torch.float64))
    opt = agc.Ranger([p], use_gc=True, gc_conv_only=False, gc_loc=True)
    copy = pickle.loads(pickle.dumps(opt))
    assert (copy.use_gc, copy.gc_conv_only, copy.gc_loc, copy.gc_mode, copy.gc_update) == (True, False, True, "gc",
                                                                                            False)
