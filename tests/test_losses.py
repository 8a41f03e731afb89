"""Losses against hand computations and a deliberately simple loop implementation."""
import math

import pytest
import torch

from reid_gc.config import get_defaults
from reid_gc.losses import CenterLoss, CrossEntropyLabelSmooth, TripletLoss, make_loss
from reid_gc.utils.errors import UserError


def softplus(v):
    return math.log1p(math.exp(v))


# ------------------------------------------------------------------------------------------ cross entropy
# Two samples, three classes. Logits are logs of (1, 2, 1) and (1, 1, 2), so the softmax probabilities
# are (1/4, 1/2, 1/4) and (1/4, 1/4, 1/2). Targets: class 1 and class 0.
LOGITS = torch.log(torch.tensor([[1.0, 2.0, 1.0], [1.0, 1.0, 2.0]]))
TARGETS = torch.tensor([1, 0])


def test_label_smoothed_cross_entropy_by_hand():
    # eps = 0.1, C = 3: the target weight is 0.9 + 0.1/3 on the true class and 0.1/3 elsewhere.
    on, off = 0.9 + 0.1 / 3, 0.1 / 3
    # sample 1: -(on*ln(1/2) + off*ln(1/4) + off*ln(1/4))
    s1 = -(on * math.log(0.5) + 2 * off * math.log(0.25))
    # sample 2: -(on*ln(1/4) + off*ln(1/4) + off*ln(1/2))
    s2 = -(on * math.log(0.25) + off * math.log(0.25) + off * math.log(0.5))
    expected = (s1 + s2) / 2  # = 1.0512735...
    assert abs(expected - 1.0512735) < 1e-6
    got = CrossEntropyLabelSmooth(3, 0.1)(LOGITS, TARGETS)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_plain_cross_entropy_by_hand():
    # -ln(1/2) and -ln(1/4), averaged
    expected = (math.log(2) + math.log(4)) / 2
    assert CrossEntropyLabelSmooth(3, 0.0)(LOGITS, TARGETS).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_half_scores_give_float32():
    got = CrossEntropyLabelSmooth(3, 0.1)(LOGITS.half(), TARGETS)
    assert got.dtype == torch.float32


# ---------------------------------------------------------------------------------------------- triplet
# Four 2-d points, two ids: a=(0,0), b=(3,4) of id 0; c=(0,2), d=(0,3) of id 1.
# Distances: ab=5, ac=2, ad=3, bc=sqrt(13), bd=sqrt(10), cd=1.
POINTS = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 2.0], [0.0, 3.0]])
IDS = torch.tensor([0, 0, 1, 1])
# (hardest positive, hardest negative) per anchor:
#   a: (ab=5, min(ac, ad)=2)   b: (ab=5, min(bc, bd)=sqrt(10))
#   c: (cd=1, min(ac, bc)=2)   d: (cd=1, min(ad, bd)=3)
HARD = [(5.0, 2.0), (5.0, math.sqrt(10)), (1.0, 2.0), (1.0, 3.0)]


def test_batch_hard_triplet_margin_by_hand():
    # relu(d_ap - d_an + 0.3): a 3.3, b 5 - sqrt(10) + 0.3 = 2.1377, c and d clipped to 0
    expected = sum(max(0.0, ap - an + 0.3) for ap, an in HARD) / 4
    assert expected == pytest.approx((3.3 + 5.3 - math.sqrt(10)) / 4)
    assert TripletLoss(0.3)(POINTS, IDS).item() == pytest.approx(expected, rel=1e-5)


def test_batch_hard_triplet_soft_margin_by_hand():
    expected = sum(softplus(ap - an) for ap, an in HARD) / 4
    assert TripletLoss(0.0)(POINTS, IDS).item() == pytest.approx(expected, rel=1e-5)
    assert TripletLoss(None)(POINTS, IDS).item() == pytest.approx(expected, rel=1e-5)


def _loop_triplet(feat, labels, margin):
    """Simple per-anchor reference: exact pairwise distances, Python loops."""
    n = len(labels)
    total = 0.0
    for i in range(n):
        d = [math.sqrt(sum((feat[i, k].item() - feat[j, k].item()) ** 2 for k in range(feat.size(1))))
             for j in range(n)]
        ap = max(d[j] for j in range(n) if labels[j] == labels[i])
        an = min(d[j] for j in range(n) if labels[j] != labels[i])
        total += softplus(ap - an) if margin == 0 else max(0.0, ap - an + margin)
    return total / n


@pytest.mark.parametrize("margin", [0.3, 0.0, 5.0])
def test_triplet_matches_loop_reference(margin):
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(12, 5, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    got = TripletLoss(margin)(feat, labels).item()
    assert got == pytest.approx(_loop_triplet(feat, labels, margin), rel=1e-4, abs=1e-5)


def test_triplet_without_negatives_is_zero_with_finite_gradient():
    feat = torch.randn(4, 3, requires_grad=True)
    loss = TripletLoss(0.3)(feat, torch.zeros(4, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(feat.grad).all()


def test_triplet_gradient_finite_with_duplicate_points():
    feat = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    TripletLoss(0.3)(feat, IDS).backward()
    assert torch.isfinite(feat.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_triplet_and_center_run_in_float32(dtype):
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(8, 16, generator=g) * 3
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    center = CenterLoss(4, 16)
    low = feat.to(dtype)
    ref_t, ref_c = TripletLoss(0.3)(low.float(), labels), center(low.float(), labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t, c = TripletLoss(0.3)(low, labels), center(low, labels)
    assert t.dtype == torch.float32 and c.dtype == torch.float32
    assert t.item() == pytest.approx(ref_t.item(), rel=1e-5)
    assert c.item() == pytest.approx(ref_c.item(), rel=1e-5)


# ----------------------------------------------------------------------------------------------- center
def test_center_loss_by_hand():
    loss = CenterLoss(2, 2)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    feat = torch.tensor([[1.0, 0.0], [3.0, 3.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1, 0])
    # squared distances to own centers: 1, (2^2 + 2^2) = 8, 0 -> clamped to 1e-12; mean over 3 samples
    value = loss(feat, labels)
    assert value.item() == pytest.approx((1 + 8 + 1e-12) / 3)
    value.backward()
    # d/dc_y sum_i ||x_i - c_y||^2 / 3 = -2 (x_i - c_y) / 3 summed over the samples of class y
    expected = torch.tensor([[-2 / 3, 0.0], [-4 / 3, -4 / 3]])
    assert torch.allclose(loss.centers.grad, expected)


def test_center_loss_parameters():
    torch.manual_seed(0)
    loss = CenterLoss(50, 64)
    assert loss.centers.shape == (50, 64) and loss.centers.requires_grad
    assert 0.9 < loss.centers.std().item() < 1.1  # randn


# ------------------------------------------------------------------------------------------- make_loss
def _cfg(sampler, with_center="no", metric="triplet", smooth="on", margin=0.3, weight=0.0005):
    cfg = get_defaults()
    cfg.DATALOADER.SAMPLER = sampler
    cfg.MODEL.IF_WITH_CENTER = with_center
    cfg.MODEL.METRIC_LOSS_TYPE = metric
    cfg.MODEL.IF_LABELSMOOTH = smooth
    cfg.SOLVER.MARGIN = margin
    cfg.SOLVER.CENTER_LOSS_WEIGHT = weight
    return cfg


VALID = [
    (("softmax", "no", "triplet"), ("id",)),
    (("triplet", "no", "triplet"), ("triplet",)),
    (("softmax_triplet", "no", "triplet"), ("id", "triplet")),
    (("softmax", "yes", "center"), ("id", "center")),
    (("softmax_triplet", "yes", "center"), ("id", "center")),
    (("softmax_triplet", "yes", "triplet_center"), ("id", "triplet", "center")),
    (("triplet", "yes", "triplet_center"), ("id", "triplet", "center")),
]


def _reference_parts(score, feat, target, smooth, margin, centers):
    """The strong baseline's three losses written out anchor by anchor, independently of reid_gc.losses."""
    n, k = score.shape
    eps = 0.1 if smooth == "on" else 0.0
    out = {}
    ce = 0.0
    for i in range(n):
        log_p = score[i] - torch.logsumexp(score[i], 0)
        q = torch.full((k,), eps / k, dtype=torch.float64)
        q[target[i]] += 1 - eps
        ce += -(q * log_p).sum().item()
    out["id"] = ce / n
    losses = []
    for a in range(n):
        d = [(feat[a] - feat[j]).norm().item() for j in range(n)]
        d_ap = max(d[j] for j in range(n) if target[j] == target[a] and j != a)
        d_an = min(d[j] for j in range(n) if target[j] != target[a])
        losses.append(math.log1p(math.exp(d_ap - d_an)) if margin == 0 else max(d_ap - d_an + margin, 0.0))
    out["triplet"] = sum(losses) / n
    if centers is not None:
        out["center"] = sum(((feat[i] - centers[target[i]]) ** 2).sum().item() for i in range(n)) / n
    return out


@pytest.mark.parametrize("combo,names", VALID)
@pytest.mark.parametrize("smooth,margin", [("on", 0.3), ("off", 0.0)])
def test_make_loss_sums_the_right_parts(combo, names, smooth, margin):
    num_classes, dim, weight = 4, 6, 0.5
    loss_fn, center = make_loss(_cfg(*combo, smooth=smooth, margin=margin, weight=weight), num_classes, dim)
    assert (center is not None) == ("center" in names)
    g = torch.Generator().manual_seed(2)
    score = torch.randn(8, num_classes, generator=g, requires_grad=True)
    feat = torch.randn(8, dim, generator=g, requires_grad=True)
    target = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    total, parts = loss_fn(score, feat, target)
    assert tuple(parts) == names
    for v in parts.values():
        assert not v.requires_grad and v.dtype == torch.float32 and v.dim() == 0
    expected = _reference_parts(score.detach().double(), feat.detach().double(), target, smooth, margin,
                                center.centers.detach().double() if center is not None else None)
    for name in names:
        assert parts[name].item() == pytest.approx(expected[name], rel=1e-6)
    want = sum(weight * expected[k] if k == "center" else expected[k] for k in names)
    assert total.item() == pytest.approx(want, rel=1e-6)
    total.backward()
    if "center" in names:
        assert center.centers.grad is not None


@pytest.mark.parametrize("kwargs", [
    dict(sampler="softmax_triplet", with_center="no", metric="center"),
    dict(sampler="softmax_triplet", with_center="no", metric="triplet_center"),
    dict(sampler="softmax_triplet", with_center="yes", metric="triplet"),
    dict(sampler="softmax", with_center="yes", metric="triplet_center"),
    dict(sampler="random", with_center="no", metric="triplet"),
    dict(sampler="softmax_triplet", with_center="maybe", metric="triplet"),
    dict(sampler="softmax_triplet", margin=-0.1),
    dict(sampler="softmax_triplet", with_center="yes", metric="center", weight=0.0),
    dict(sampler="softmax_triplet", smooth="yes"),
])
def test_make_loss_rejects_invalid_combinations(kwargs):
    with pytest.raises(UserError) as err:
        make_loss(_cfg(**kwargs), 4, 6)
    assert "\n" not in str(err.value)
