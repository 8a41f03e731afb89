"""reid_gc.optim: the GC operation, name resolution, and GC wrappers of any torch optimizer."""
import pickle

import pytest
import torch

import reid_gc.optim as gco

FIXED = ["SGD_GC", "SGD_GCC", "SGD_GC2", "SGD_GCC2", "SGDW", "SGDW_GC", "SGDW_GCC",
         "Adam_GC", "Adam_GCC", "Adam_GC2", "Adam_GCC2",
         "AdamW", "AdamW_GC", "AdamW_GCC", "AdamW_GC2", "AdamW_GCC2", "Adagrad_GC", "Adagrad_GCC",
         "PlainRAdam", "PlainRAdam_GC", "PlainRAdam_GCC", "PlainRAdam_GC2", "PlainRAdam_GCC2",
         "Ranger", "Ranger_GC", "Ranger_GCC", "Ranger_GC2", "Ranger_GCC2"]
# torch optimizers whose weight decay is decoupled (applied to p, not added to the gradient), by torch's docs.
DECOUPLED = {"AdamW", "Adafactor", "Muon"}


def test_centralize_and_centralized():
    x = torch.arange(24.0).reshape(2, 3, 4) ** 2
    y = gco.centralized(x)
    assert torch.equal(x, torch.arange(24.0).reshape(2, 3, 4) ** 2), "centralized() changed its input"
    torch.testing.assert_close(y[0], x[0] - x[0].mean())
    torch.testing.assert_close(y[1], x[1] - x[1].mean())
    assert gco.centralize_(x) is x and torch.equal(x, y)
    bias = torch.tensor([1.0, 2.0])
    assert torch.equal(gco.centralize_(bias), torch.tensor([1.0, 2.0]))
    assert torch.equal(gco.centralized(bias), bias) and gco.centralized(bias) is not bias
    channels_last = torch.randn(4, 3, 2, 2).to(memory_format=torch.channels_last)
    torch.testing.assert_close(gco.centralized(channels_last).sum(dim=(1, 2, 3)), torch.zeros(4), atol=1e-6, rtol=0)


def test_gc_modes():
    conv, fc, x3, bias = torch.zeros(2, 2, 1, 1), torch.zeros(2, 2), torch.zeros(2, 2, 2), torch.zeros(2)
    assert [gco.gc_applies(t, "gc") for t in (conv, fc, x3, bias)] == [True, True, True, False]
    assert [gco.gc_applies(t, "gcc") for t in (conv, fc, x3, bias)] == [True, False, False, False]
    assert not gco.gc_applies(conv, None)


def test_resolution_order():
    assert gco.resolve_optimizer("SGD") is torch.optim.SGD
    assert gco.resolve_optimizer("AdamW") is torch.optim.AdamW  # torch's name first, as getattr(torch.optim) did
    assert gco.AdamW is not torch.optim.AdamW
    for name in FIXED:
        if name != "AdamW":
            assert gco.resolve_optimizer(name) is getattr(gco, name)
    cls = gco.resolve_optimizer("RAdam_GCC")
    assert issubclass(cls, torch.optim.RAdam) and cls.__name__ == "RAdam_GCC"
    assert gco.resolve_optimizer("RAdam_GCC") is cls and gco.RAdam_GCC is cls
    assert gco.optimizer_names() == sorted(FIXED) + ["<TorchOptimizer>_GC", "<TorchOptimizer>_GCC",
                                                     "<TorchOptimizer>_GC2", "<TorchOptimizer>_GCC2"]
    cls2 = gco.resolve_optimizer("RAdam_GCC2")
    assert issubclass(cls2, torch.optim.RAdam) and cls2.__name__ == "RAdam_GCC2" and gco.RAdam_GCC2 is cls2


@pytest.mark.parametrize("name", ["sgd_gcc", "SGD_gcc", "Foo", "LBFGS_GC", "RAdam_GCC3", "SparseAdam_GC2", ""])
def test_unknown_names(name):
    with pytest.raises(ValueError) as info:
        gco.resolve_optimizer(name)
    message = str(info.value)
    assert "\n" not in message and repr(name) in message
    assert all(n in message for n in FIXED) and "RAdam" in message and "RMSprop" in message


def plain_gc(g, mode):
    if (mode == "gc" and g.dim() > 1) or (mode == "gcc" and g.dim() > 3):
        return g - g.reshape(g.shape[0], -1).mean(dim=1).reshape((-1,) + (1,) * (g.dim() - 1))
    return g


@pytest.mark.parametrize("torch_name,mode,kwargs", [
    ("RAdam", "gcc", dict(lr=0.01, weight_decay=0.01)), ("NAdam", "gc", dict(lr=0.01)),
    ("RMSprop", "gcc", dict(lr=0.01, momentum=0.5)), ("SGD", "gc", dict(lr=0.1, momentum=0.9, weight_decay=0.05)),
    ("SGD", "gcc", dict(lr=0.1)),
    ("AdamW", "gc", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", "gc", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
])
def test_wrapper_is_torch_optimizer_on_centralized_gradients(torch_name, mode, kwargs):
    """`_GC`: torch's step on GC(g + wd*p) with its own decay off when it adds L2 decay to the gradient (as the
    fixed family and the GC paper do), on GC(g) with its decay kept when the decay is decoupled."""
    l2 = torch_name not in DECOUPLED and not kwargs.get("decoupled_weight_decay") and kwargs.get("weight_decay")
    wd = kwargs.get("weight_decay", 0.0)
    name = torch_name + ("_GC" if mode == "gc" else "_GCC")
    cls = gco.gc_wrapped(torch_name, mode)
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3, 3, 3), (5, 6), (3, 4, 5), (5,)]
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    opt = cls([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.02}], **kwargs)
    ref_kwargs = dict(kwargs, weight_decay=0.0) if l2 else kwargs
    ref = getattr(torch.optim, torch_name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.02}],
                                           **ref_kwargs)
    assert type(opt).__name__ == name
    pre_hook_calls = []
    opt.register_step_pre_hook(lambda *a: pre_hook_calls.append(1))
    for _ in range(3):
        grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = g.clone(), plain_gc(g + wd * q.detach() if l2 else g, mode)
        grad_objects = [p.grad for p in ours]
        opt.step()
        ref.step()
        for p, q, g, obj in zip(ours, theirs, grads, grad_objects):
            assert p.grad is obj and torch.equal(p.grad, g), "p.grad was modified"
            torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-12, atol=1e-14)
    assert len(pre_hook_calls) == 3, "step hooks must run once per step"
    assert [g["weight_decay"] for g in opt.param_groups] == [wd, wd], "the group's weight decay is restored"
    ref.load_state_dict(opt.state_dict())  # the torch optimizer's state_dict format


@pytest.mark.parametrize("torch_name,mode,kwargs", [
    ("RAdam", "gc", dict(lr=0.01, weight_decay=0.01)), ("SGD", "gcc", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("SGD", "gc", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("AdamW", "gc", dict(lr=0.01, weight_decay=0.1)), ("Adagrad", "gcc", dict(lr=0.05)),
])
def test_gc2_wrapper_centralizes_the_change_of_each_step(torch_name, mode, kwargs):
    """`_GC2`: torch's step, then each selected tensor minus the row mean of its change (row means kept)."""
    cls = gco.resolve_optimizer(torch_name + ("_GC2" if mode == "gc" else "_GCC2"))
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3, 3, 3), (5, 6), (5,)]
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    opt, ref = cls(ours, **kwargs), getattr(torch.optim, torch_name)(theirs, **kwargs)
    means = [p.detach().reshape(p.shape[0], -1).mean(dim=1) for p in ours[:2]]
    for _ in range(4):
        grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = g.clone(), g.clone()
        old = [q.detach().clone() for q in theirs]
        opt.step()
        ref.step()
        with torch.no_grad():
            for q, o in zip(theirs, old):
                if (mode == "gc" and q.dim() > 1) or q.dim() > 3:
                    q.sub_(plain_gc(q - o, mode).neg_().add_(q - o))  # q - row mean of (q - o)
        for p, q, g in zip(ours, theirs, grads):
            assert torch.equal(p.grad, g)
            torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-12, atol=1e-13)
    kept = [p.detach().reshape(p.shape[0], -1).mean(dim=1) for p in ours[:2]]
    torch.testing.assert_close(kept[0], means[0], rtol=0, atol=1e-12)
    if mode == "gc":
        torch.testing.assert_close(kept[1], means[1], rtol=0, atol=1e-12)
    else:
        assert not torch.allclose(kept[1], means[1]), "an fc weight's mean moves under _GCC2"


def test_wrapper_closure_and_pickle():
    p = torch.nn.Parameter(torch.ones(2, 2))
    opt = gco.resolve_optimizer("Adamax_GC")([p], lr=0.1)
    loss = opt.step(lambda: (p * torch.tensor([[1.0, 3.0], [2.0, 2.0]])).sum().backward() or torch.tensor(5.0))
    assert loss.item() == 5.0
    assert p.grad.tolist() == [[1.0, 3.0], [2.0, 2.0]]
    torch.testing.assert_close(p.detach(), torch.tensor([[1.1, 0.9], [1.0, 1.0]]))  # row 2: zero gradient after GC
    assert type(pickle.loads(pickle.dumps(opt))) is type(opt)


def test_batched_means_match_per_tensor_gc():
    """The GPU path's GC (means of same-shape tensors stacked, one foreach subtraction), checked on the CPU."""
    from reid_gc.optim.centralization import centralize_all_, row_means
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3, 3, 3), (4, 3, 3, 3), (5, 6), (4, 3, 3, 3), (5, 6), (2, 7)]
    tensors = [torch.randn(s, generator=gen) for s in shapes] + [torch.randn(4, 3, 3, 3, generator=gen).double()]
    tensors[1] = tensors[1].to(memory_format=torch.channels_last)
    expected = [plain_gc(t, "gc") for t in tensors]
    means = row_means(tensors, batched=True)
    assert [m.shape for m in means] == [(t.shape[0],) + (1,) * (t.dim() - 1) for t in tensors]
    centralize_all_(tensors, batched=True)
    for t, e in zip(tensors, expected):
        torch.testing.assert_close(t, e, rtol=1e-6, atol=1e-6)
