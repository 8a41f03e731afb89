"""Step time of the GC optimizers on ResNet-50's parameters (751 classes) with random gradients.

    python benchmarks/optim_step.py [--device cpu|cuda] [--repeats N] [--only SGD_GCC,Adam_GC,...]

Per optimizer, in one run and interleaved round by round: ours (its default path for the device, or
--foreach), torch's nearest optimizer without GC (torch.optim.SGD/Adam/AdamW/Adagrad/RAdam, same
hyper-parameters, its default path), and a naive per-parameter loop of the same rule written plainly below
(for `<Torch>_GC...` wrappers: one torch optimizer per tensor, GC by hand). Times are medians; ratios are
medians of the per-round ratios (robust to load that drifts during the run).
Targets: CPU: SGD family <= 1.2x torch, the others <= 1.3x, never slower than naive;
GPU: <= 1.15x torch and >= 5x faster than naive.
"""
import argparse
import itertools
import os

from _common import median, peak_extra_mb, pick_device, time_call

import torch
import torchvision

import reid_gc.optim as gco
from reid_gc.optim.registry import FIXED

# family -> (torch counterpart, hyper-parameters used for ours, torch's and the naive loop)
FAMILIES = {
    "SGD": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=5e-4)),
    "Adam": ("Adam", dict(lr=3.5e-4, weight_decay=5e-4)),
    "AdamW": ("AdamW", dict(lr=3.5e-4, weight_decay=5e-4)),
    "Adagrad": ("Adagrad", dict(lr=0.01, weight_decay=5e-4)),
    "RAdam": ("RAdam", dict(lr=1e-3, weight_decay=5e-4)),
    "NAdam": ("NAdam", dict(lr=1e-3, weight_decay=5e-4)),
}
# the fixed family, in the registry's (family) order, then GC wrappers of torch optimizers
WRAPPED = ["RAdam_GC", "RAdam_GC2", "NAdam_GC2", "Adagrad_GC2"]
NAMES = list(FIXED) + WRAPPED


def family(name):
    if name.startswith(("RAdam", "PlainRAdam", "Ranger")):
        return "RAdam"
    if name.startswith("NAdam"):
        return "NAdam"
    return "Adagrad" if name.startswith("Adagrad") else "AdamW" if name.startswith("AdamW") else \
        "Adam" if name.startswith("Adam") else "SGD"



def plain_gc(x, mode):
    """Gradient Centralization written plainly: subtract each row's mean (all dims but the first) from
    weights with more than one dimension ('gc') or conv weights only ('gcc')."""
    if (mode == "gc" and x.dim() > 1) or (mode == "gcc" and x.dim() > 3):
        return x - x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    return x

class NaiveWrapped:
    """`<Torch>_GC` / `_GC2` written plainly: one torch optimizer (single-tensor path) per tensor, GC by hand."""

    def __init__(self, params, cls, lr, weight_decay, momentum=0.0):
        base = cls.__mro__[1]
        extra = dict(momentum=momentum) if momentum else {}
        self.l2 = weight_decay if not cls.gc_update else 0.0
        self.mode, self.on_update = cls.gc_mode, cls.gc_update
        self.items = [(p, base([p], lr=lr, weight_decay=weight_decay - self.l2, foreach=False, **extra))
                      for p in params]

    def gc(self, x):
        return plain_gc(x, self.mode)

    @torch.no_grad()
    def step(self):
        for p, opt in self.items:
            g = p.grad
            if not self.on_update:
                p.grad = self.gc(g + self.l2 * p)
                opt.step()
                p.grad = g
            else:
                old = p.clone()
                opt.step()
                p.copy_(old + self.gc(p - old))


class NaiveLoop:
    """The rule of `cls` written plainly: one parameter at a time, out-of-place tensor math."""

    def __init__(self, params, cls, lr, weight_decay, momentum=0.0, betas=(0.9, 0.999), eps=None):
        self.params, self.state = params, {}
        self.rule = family(cls.__name__)
        self.mode, self.on_update = cls.gc_mode, getattr(cls, "gc_update", False)
        self.decoupled = getattr(cls, "decoupled_weight_decay", False)
        self.lr, self.wd, self.momentum, self.betas = lr, weight_decay, momentum, betas
        self.eps = eps if eps is not None else (1e-10 if self.rule == "Adagrad" else 1e-8)
        self.ranger = cls.__name__.startswith("Ranger")
        if self.ranger:
            self.betas, self.eps = (0.95, 0.999), 1e-5

    def gc(self, x):
        return plain_gc(x, self.mode)

    @torch.no_grad()
    def step(self):
        for p in self.params:
            st = self.state.setdefault(p, {"t": 0})
            st["t"] += 1
            p.copy_(getattr(self, self.rule.lower())(p, p.grad, st))

    def sgd(self, p, g, st):
        d = self.gc(g if self.decoupled else g + self.wd * p)
        st["b"] = d if st["t"] == 1 else self.momentum * st["b"] + d
        new = p - self.lr * st["b"]
        return new - self.lr * self.wd * p if self.decoupled else new

    def adam(self, p, g, st):
        b1, b2 = self.betas
        d = g + self.wd * p
        d = d if self.on_update else self.gc(d)
        st["m"] = b1 * st.get("m", 0) + (1 - b1) * d
        st["v"] = b2 * st.get("v", 0) + (1 - b2) * d * d
        t = st["t"]
        u = self.lr / (1 - b1 ** t) * st["m"] / (st["v"].sqrt() / (1 - b2 ** t) ** 0.5 + self.eps)
        return p - (self.gc(u) if self.on_update else u)

    def adamw(self, p, g, st):
        b1, b2 = self.betas
        d = g if self.on_update else self.gc(g)
        st["m"] = b1 * st.get("m", 0) + (1 - b1) * d
        st["v"] = b2 * st.get("v", 0) + (1 - b2) * d * d
        t = st["t"]
        u = self.lr * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t) * (self.wd * p + st["m"] / (st["v"].sqrt() + self.eps))
        return p - (self.gc(u) if self.on_update else u)

    def radam(self, p, g, st):
        """The GC authors' RAdam rule (PlainRAdam / Ranger: see reid_gc.optim.radam)."""
        b1, b2 = self.betas
        d = g if self.on_update else self.gc(g)
        st["m"] = b1 * st.get("m", 0) + (1 - b1) * d
        st["v"] = b2 * st.get("v", 0) + (1 - b2) * d * d
        t = st["t"]
        n_max = 2 / (1 - b2) - 1
        n = n_max - 2 * t * b2 ** t / (1 - b2 ** t)
        if n > 5 or (n >= 5 and not self.ranger):
            r = ((1 - b2 ** t) * (n - 4) / (n_max - 4) * (n - 2) / n * n_max / (n_max - 2)) ** 0.5 / (1 - b1 ** t)
            u = st["m"] / (st["v"].sqrt() + self.eps) + self.wd * p
        else:
            r = 1 / (1 - b1 ** t)
            u = st["m"] = st["m"] + self.wd * p
        new = p - self.lr * r * (self.gc(u) if self.on_update else u)
        if self.ranger:
            st.setdefault("slow", p)
            if t % 6 == 0:
                st["slow"] = new = st["slow"] + 0.5 * (new - st["slow"])
        return new

    def adagrad(self, p, g, st):
        d = self.gc(g + self.wd * p)
        st["s"] = st.get("s", 0) + d * d
        return p - self.lr * d / (st["s"].sqrt() + self.eps)


def resnet50_tensors(device):
    torch.manual_seed(0)
    params = [p.detach().to(device) for p in torchvision.models.resnet50(num_classes=751).parameters()]
    return params, [torch.randn_like(p) for p in params]


def copies(params, grads):
    out = [p.clone().requires_grad_() for p in params]
    for p, g in zip(out, grads):
        p.grad = g  # shared, read-only for every optimizer
    return out


def measure(name, params, grads, device, repeats, warmup=3, foreach=None):
    torch_name, hyper = FAMILIES[family(name)]
    cls = getattr(gco, name)
    ours = cls(copies(params, grads), **hyper, **({} if foreach is None else dict(foreach=foreach)))
    naive = NaiveWrapped if name in WRAPPED else NaiveLoop
    runs = {"ours": ours,
            "torch": getattr(torch.optim, torch_name)(copies(params, grads), **hyper,
                                                      **({} if foreach is None else dict(foreach=foreach))),
            "naive": naive(copies(params, grads), cls, **hyper)}
    for opt in runs.values():
        for _ in range(warmup):
            opt.step()
    times = {k: [] for k in runs}
    order = list(runs)
    for r in range(repeats):
        for k in order[r % 3:] + order[:r % 3]:
            times[k].append(time_call(runs[k].step, device))
    memory = {k: peak_extra_mb(runs[k].step, device) for k in ("ours", "torch")}
    return times, memory


def centralize_flat_by_row_length_(tensors):
    """An alternative multi-tensor GC to compare with the library's per-tensor one: copy the tensors into
    one flat buffer ordered by row length, one mean-and-subtract per row length, copy back."""
    row = lambda t: t[0].numel()  # noqa: E731
    tensors = sorted(tensors, key=row)
    flat = torch.cat([t.reshape(-1) for t in tensors])
    start = 0
    for length, same in itertools.groupby(tensors, key=row):
        block = flat[start:start + sum(t.numel() for t in same)].view(-1, length)
        block.sub_(block.mean(dim=1, keepdim=True))
        start += block.numel()
    views = flat.split([t.numel() for t in tensors])
    torch._foreach_copy_(tensors, [v.view_as(t) for v, t in zip(views, tensors)])


def gc_variants(grads, device, repeats):
    """ms of GC alone on ResNet-50's conv-weight gradients (the _GCC set): the library's way and an alternative."""
    convs = [g.clone() for g in grads if g.dim() > 3]
    ways = {"per-tensor mean-and-subtract (library on the CPU)":
            lambda ts: gco.centralization.centralize_all_(ts, batched=False),
            "means batched by shape, one foreach subtract (library off the CPU)":
            lambda ts: gco.centralization.centralize_all_(ts, batched=True),
            "flat buffer by row length": centralize_flat_by_row_length_}
    out = {}
    for name, fn in ways.items():
        fn(convs)
        out[name] = 1e3 * median([time_call(lambda: fn(convs), device) for _ in range(repeats)])
    return out


def load_average():
    return "load average %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else "load average n/a"


def target_met(name, ratio_torch, ratio_naive, device):
    if device.type == "cuda":
        return ratio_torch <= 1.15 and ratio_naive <= 0.2
    return ratio_torch <= (1.2 if family(name) == "SGD" else 1.3) and ratio_naive <= 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 20 CPU, 50 CUDA)")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. SGD_GCC,Adam_GC")
    parser.add_argument("--foreach", action="store_true",
                        help="time our and torch's multi-tensor paths (the GPU default) instead of the "
                             "device default (GC wrappers: torch's multi-tensor step inside)")
    parser.add_argument("--gc-variants", action="store_true",
                        help="also time GC alone, two ways (always on CUDA)")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    repeats = args.repeats or (50 if device.type == "cuda" else 20)
    names = [n for n in args.only.split(",") if n] or NAMES
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        parser.error(f"unknown optimizer(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    params, grads = resnet50_tensors(device)
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU, {torch.get_num_threads()} threads")
    print(f"ResNet-50 (751 classes), {len(params)} tensors, {sum(p.numel() for p in params) / 1e6:.1f}M parameters; "
          f"{where}; torch {torch.__version__}; median of {repeats} interleaved rounds; {load_average()}")
    print()
    print("| optimizer | ours ms | torch counterpart ms | ratio vs torch | naive loop ms | ratio vs naive "
          "| target met |")
    print("|---|---|---|---|---|---|---|")
    memory_rows = []
    for name in names:
        times, memory = measure(name, params, grads, device, repeats,
                                foreach=True if args.foreach else None)
        vs_torch = median([a / b for a, b in zip(times["ours"], times["torch"])])
        vs_naive = median([a / b for a, b in zip(times["ours"], times["naive"])])
        ms = {k: 1e3 * median(v) for k, v in times.items()}
        met = "yes" if target_met(name, vs_torch, vs_naive, device) else "NO"
        print(f"| {name} | {ms['ours']:.2f} | {ms['torch']:.2f} ({FAMILIES[family(name)][0]}) | {vs_torch:.2f} "
              f"| {ms['naive']:.2f} | {vs_naive:.2f} | {met} |", flush=True)
        if memory["ours"] is not None:
            memory_rows.append(f"| {name} | {memory['ours']:.1f} | {memory['torch']:.1f} |")
    print(f"\nat the end: {load_average()} (CPU timings are only comparable on an otherwise idle machine)")
    if memory_rows:
        print("\n| optimizer | step peak extra MiB, ours | torch counterpart |\n|---|---|---|")
        print("\n".join(memory_rows))
    if args.gc_variants or device.type == "cuda":
        print("\n| GC alone, conv-weight gradients | ms |\n|---|---|")
        for way, ms in gc_variants(grads, device, repeats).items():
            print(f"| {way} | {ms:.3f} |")


if __name__ == "__main__":
    main()
