"""reid_gc.optim's fixed GC family against plain float64 implementations of the rules (issue 3)."""
import inspect
import io
import math
import sys

import pytest
import torch

import reid_gc.optim as gco

STEPS = 5

# name -> (rule, GC mode, GC applied to the update instead of d, decoupled weight decay), from the issue.
FAMILY = {
    "SGD_GC": ("sgd", "gc", False, False), "SGD_GCC": ("sgd", "gcc", False, False),
    "SGDW": ("sgd", None, False, True), "SGDW_GC": ("sgd", "gc", False, True),
    "SGDW_GCC": ("sgd", "gcc", False, True),
    "Adam_GC": ("adam", "gc", False, False), "Adam_GCC": ("adam", "gcc", False, False),
    "Adam_GC2": ("adam", "gc", True, False), "Adam_GCC2": ("adam", "gcc", True, False),
    "AdamW": ("adamw", None, False, True), "AdamW_GC": ("adamw", "gc", False, True),
    "AdamW_GCC": ("adamw", "gcc", False, True), "AdamW_GC2": ("adamw", "gc", True, True),
    "AdamW_GCC2": ("adamw", "gcc", True, True),
    "Adagrad_GC": ("adagrad", "gc", False, False), "Adagrad_GCC": ("adagrad", "gcc", False, False),
}

VARIANTS = {
    "sgd": [dict(), dict(momentum=0.9), dict(momentum=0.8, dampening=0.3), dict(momentum=0.9, nesterov=True)],
    "adam": [dict(), dict(betas=(0.8, 0.9), eps=1e-3, amsgrad=True)],
    "adagrad": [dict(), dict(lr_decay=0.1, initial_accumulator_value=0.5, eps=1e-3)],
}
VARIANTS["adamw"] = VARIANTS["adam"]

# Two groups with different lr and weight decay: a conv + a 3-d tensor, an fc + a bias (weight decay 0:
# GC then works on a copy of the gradient, or on the first buffer the step writes).
GROUPS = [dict(lr=0.05, weight_decay=0.01), dict(lr=0.1, weight_decay=0.0)]
SHAPES = [[(4, 3, 3, 3), (3, 4, 5)], [(5, 6), (5,)]]
# (step, group, index) whose gradient is None: that tensor skips the step (own step count for Adam).
SKIPPED = {(2, 1, 0)}


def ref_gc(x):
    if x.dim() < 2:
        return x
    means = x.reshape(x.shape[0], -1).mean(dim=1)
    return x - means.reshape((-1,) + (1,) * (x.dim() - 1))


def applies(x, mode):
    return (mode == "gc" and x.dim() > 1) or (mode == "gcc" and x.dim() > 3)


def ref_step(name, p, g, st, h):
    """One step of `name` for one tensor, written from the issue's rules; returns the new p."""
    rule, mode, on_update, decoupled = FAMILY[name]
    gc = applies(p, mode)
    lr, wd = h["lr"], h["weight_decay"]
    st["t"] = st.get("t", 0) + 1
    t = st["t"]
    if rule == "sgd":
        m, damp = h.get("momentum", 0.0), h.get("dampening", 0.0)
        d = g if decoupled else g + wd * p
        if gc:
            d = ref_gc(d)
        if m:
            st["b"] = d if t == 1 else m * st["b"] + (1 - damp) * d
            d = d + m * st["b"] if h.get("nesterov") else st["b"]
        new = p - lr * d
        if decoupled:
            new = new - lr * wd * p
        return new
    if rule in ("adam", "adamw"):
        b1, b2 = h.get("betas", (0.9, 0.999))
        eps = h.get("eps", 1e-8)
        d = g if rule == "adamw" else g + wd * p
        if gc and not on_update:
            d = ref_gc(d)
        st["m"] = b1 * st.get("m", 0) + (1 - b1) * d
        st["v"] = b2 * st.get("v", 0) + (1 - b2) * d * d
        v = st["v"]
        if h.get("amsgrad"):
            st["vmax"] = v = torch.maximum(st.get("vmax", torch.zeros_like(v)), v)
        if rule == "adam":
            u = (lr / (1 - b1 ** t)) * st["m"] / (v.sqrt() / math.sqrt(1 - b2 ** t) + eps)
        else:  # torch.optim.AdamW's rule (decoupled decay lr*wd*p), the same for every AdamW suffix
            u = lr * wd * p + (lr / (1 - b1 ** t)) * st["m"] / (v.sqrt() / math.sqrt(1 - b2 ** t) + eps)
        if gc and on_update:
            u = ref_gc(u)
        return p - u
    assert rule == "adagrad"
    d = g + wd * p
    if gc:
        d = ref_gc(d)
    st["s"] = st.get("s", h.get("initial_accumulator_value", 0.0)) + d * d
    clr = lr / (1 + (t - 1) * h.get("lr_decay", 0.0))
    return p - clr * d / (st["s"].sqrt() + h.get("eps", 1e-10))


def make_params(dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    return [[torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in shapes] for shapes in SHAPES]


def gradients(params):
    gen = torch.Generator().manual_seed(1)
    return [[[None if (k, i, j) in SKIPPED else torch.randn(p.shape, generator=gen, dtype=p.dtype)
              for j, p in enumerate(group)] for i, group in enumerate(params)] for k in range(STEPS)]


def build(name, params, variant, foreach):
    groups = [dict(params=ps, **h) for ps, h in zip(params, GROUPS)]
    return getattr(gco, name)(groups, foreach=foreach, **variant)


def set_grads(params, grads):
    for group, gs in zip(params, grads):
        for p, g in zip(group, gs):
            p.grad = None if g is None else g.clone()


CASES = [(name, i) for name, spec in FAMILY.items() for i in range(len(VARIANTS[spec[0]]))]


@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("name,variant", CASES)
def test_matches_plain_rule(name, variant, foreach):
    hyper = VARIANTS[FAMILY[name][0]][variant]
    params = make_params()
    opt = build(name, params, hyper, foreach)
    ref = [[p.detach().clone() for p in group] for group in params]
    states = [[{} for _ in group] for group in params]
    for step_grads in gradients(params):
        set_grads(params, step_grads)
        opt.step()
        for i, group in enumerate(params):
            for j, p in enumerate(group):
                g = step_grads[i][j]
                if g is None:
                    assert p.grad is None
                    continue
                assert torch.equal(p.grad, g), "p.grad was modified"
                ref[i][j] = ref_step(name, ref[i][j], g, states[i][j], dict(GROUPS[i], **hyper))
                torch.testing.assert_close(p.detach(), ref[i][j], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_state_dict_resume_is_bitwise(name, foreach):
    hyper = VARIANTS[FAMILY[name][0]][-1]
    params = make_params()
    grads = gradients(params)
    opt = build(name, params, hyper, foreach)
    for k in range(2):
        set_grads(params, grads[k])
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    resumed_params = [[torch.nn.Parameter(p.detach().clone()) for p in group] for group in params]
    resumed = build(name, resumed_params, hyper, foreach)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    for k in range(2, STEPS):
        set_grads(params, grads[k])
        set_grads(resumed_params, grads[k])
        opt.step()
        resumed.step()
    for a, b in zip(sum(params, []), sum(resumed_params, [])):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_paths_agree_on_mixed_dtypes_float32(name):
    """float32 and float64 tensors in one group (the multi-tensor path groups them by dtype)."""
    hyper = VARIANTS[FAMILY[name][0]][-1]
    results = []
    for foreach in (False, True):
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(8, 4, 3, 3)), torch.nn.Parameter(torch.randn(6, 5).double()),
                  torch.nn.Parameter(torch.randn(6))]
        opt = getattr(gco, name)(params, lr=0.01, weight_decay=1e-3, foreach=foreach, **hyper)
        for _ in range(3):
            for p in params:
                p.grad = torch.randn_like(p)
            opt.step()
        results.append(params)
    for a, b in zip(*results):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_defaults_follow_torch_and_issue():
    def sig(cls):
        return {k: v.default for k, v in inspect.signature(cls).parameters.items() if k != "params"}

    assert sig(gco.SGD_GCC) == dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                                    foreach=None)
    for cls in (gco.Adam_GC, gco.AdamW, gco.AdamW_GCC2):
        s = sig(cls)
        assert (s["lr"], s["betas"], s["eps"], s["weight_decay"], s["amsgrad"], s["foreach"]) == (
            1e-3, (0.9, 0.999), 1e-8, 0.0, False, None)
    s = sig(gco.Adagrad_GCC)
    assert (s["lr"], s["lr_decay"], s["weight_decay"], s["initial_accumulator_value"], s["eps"], s["foreach"]) == (
        1e-2, 0.0, 0.0, 0.0, 1e-10, None)
    for name in FAMILY:
        assert issubclass(getattr(gco, name), torch.optim.Optimizer)


def test_default_path_on_cpu_is_single_tensor(monkeypatch):
    calls = []
    for path in ("_single_tensor_step", "_multi_tensor_step"):
        monkeypatch.setattr(gco.SGD_GCC, path, lambda self, *a, _p=path: calls.append(_p))
    p = torch.nn.Parameter(torch.randn(3, 3, 1, 1))
    p.grad = torch.ones_like(p)
    gco.SGD_GCC([p], lr=0.1).step()
    gco.SGD_GCC([p], lr=0.1, foreach=True).step()
    assert calls == ["_single_tensor_step", "_multi_tensor_step"]


@pytest.mark.parametrize("name", ["SGD_GC", "Adam_GCC2", "AdamW_GC", "Adagrad_GC", "RAdam_GC"])
def test_sparse_gradients_are_refused(name):
    emb = torch.nn.Embedding(10, 4, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="does not support sparse gradients"):
        gco.resolve_optimizer(name)(emb.parameters(), lr=0.1).step()


def test_closure_and_hyper_parameter_checks():
    p = torch.nn.Parameter(torch.ones(2, 2))
    opt = gco.SGD_GC([p], lr=0.1)
    loss = opt.step(lambda: (p * torch.tensor([[1.0, 3.0], [2.0, 2.0]])).sum().backward() or torch.tensor(5.0))
    assert loss.item() == 5.0
    torch.testing.assert_close(p.detach(), torch.tensor([[1.1, 0.9], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="Nesterov"):
        gco.SGD_GCC([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        gco.Adam_GC([p], lr=-1.0)
    with pytest.raises(ValueError, match="beta"):
        gco.AdamW([p], betas=(1.0, 0.9))


@pytest.mark.parametrize("torch_name,name,hyper", [("SGD", "SGD_GCC", dict(momentum=0.9)), ("Adam", "Adam_GC", {}),
                                                   ("Adagrad", "Adagrad_GC", {})])
def test_loads_the_torch_counterparts_state(torch_name, name, hyper):
    """A run started with torch's optimizer (state keys as torch's, tensor steps) continues with ours."""
    p = torch.nn.Parameter(torch.randn(4, 3, 2, 2, dtype=torch.float64))
    theirs = getattr(torch.optim, torch_name)([p], lr=0.1, **hyper)
    p.grad = torch.randn_like(p)
    theirs.step()
    ours = getattr(gco, name)([p], lr=0.1, **hyper)
    ours.load_state_dict(theirs.state_dict())
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in ours.state[p].items()}
    before = p.detach().clone()
    ours.step()
    h = dict(lr=0.1, weight_decay=0.0, **hyper)
    st = {"t": 1, "b": state.get("momentum_buffer"), "m": state.get("exp_avg"), "v": state.get("exp_avg_sq"),
          "s": state.get("sum")}
    torch.testing.assert_close(p.detach(), ref_step(name, before, p.grad, st, h), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_foreach_path_with_means_batched_as_on_a_gpu(name, monkeypatch):
    """The multi-tensor path with GC's means batched by shape (the default off the CPU), against the rules."""
    from reid_gc.optim import centralization
    monkeypatch.setattr(centralization, "BATCH_ON_CPU", True)
    monkeypatch.setattr(sys.modules[__name__], "SHAPES", [[(4, 3, 3, 3), (3, 4, 5), (4, 3, 3, 3)],
                                                          [(5, 6), (5,), (5, 6), (5, 6)]])  # shapes repeat
    test_matches_plain_rule(name, len(VARIANTS[FAMILY[name][0]]) - 1, True)
