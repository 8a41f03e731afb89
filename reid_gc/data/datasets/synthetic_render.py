"""Drawing for the synthetic dataset: people (appearance + pose), camera scenes and camera effects.

Everything is numpy on a 128x64 (height x width) float canvas, drawn with anti-aliased coverage maps of
capsules (limbs), ellipses (head, shoes) and convex polygons (torso, skirt, bags), each computed only in
the shape's bounding box. A person is drawn into a premultiplied RGBA layer and composed over a crop of
the camera's scene; then the camera's light, colour cast, gamma, saturation, haze, resolution, blur and
noise are applied.

The split of the information is deliberate: identity lives in the clothing colours, patterns, bag, hat,
hair, shoes and build (stable across images up to the camera's colour transform); the camera decides the
background, light, colour, scale and sharpness; each image draws its own pose, view, position,
background crop and occlusion. Raw pixels are therefore dominated by camera and image nuisance, while a
CNN trained over all cameras can learn the identity cues.
"""
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

H, W = 128, 64  # image size (height, width)
SCENE_H, SCENE_W = 160, 320  # each camera's scene; its images show random 128x64 crops of it

# Difficulty knobs, calibrated so that raw-pixel nearest neighbour stays weak (see tests/test_synthetic.py)
# while the identity cues remain learnable.
SCENE_SAT = 1.0  # saturation factor of scene colours
SCENE_GREY = 0.55  # the grey that scene means are pulled towards ...
SCENE_MEAN_PULL = 0.7  # ... by this fraction (scenes differ more in layout than in overall colour)
SCENE_CONTRAST = 0.6  # scene contrast around its mean (people stand out from the background)
BODY_WIDTH = 1.1  # body width factor (1 = slim)
CAST = 0.5  # strength of the cameras' colour casts (0 = none, 1 = the full CASTS)

_YY, _XX = np.mgrid[0:H, 0:W].astype(np.float32) + np.float32(0.5)


def _rgb(*values):
    return np.array(values, dtype=np.float32) / 255.0


# Clothing palettes (sRGB 0..1): tops are varied, bottoms lean to dark and denim as in street scenes.
TOP_COLOURS = [_rgb(*c) for c in (
    (235, 235, 228), (28, 28, 32), (125, 125, 128), (32, 42, 92), (52, 92, 180), (150, 185, 225),
    (192, 32, 40), (112, 30, 42), (40, 132, 62), (112, 112, 50), (230, 200, 45), (232, 122, 34),
    (232, 142, 172), (112, 52, 142), (202, 182, 142), (112, 72, 40), (30, 132, 132), (70, 70, 75))]
BOTTOM_COLOURS = [_rgb(*c) for c in (
    (25, 25, 30), (60, 60, 65), (50, 70, 112), (102, 132, 172), (30, 40, 80), (182, 162, 112),
    (130, 130, 132), (225, 225, 218), (100, 65, 40), (90, 95, 50), (170, 40, 50), (215, 150, 170))]
BOTTOM_WEIGHTS = np.array([8, 5, 8, 5, 4, 3, 3, 2, 2, 2, 1, 1], dtype=np.float64)
SKIN_COLOURS = [_rgb(*c) for c in ((240, 200, 170), (222, 178, 140), (190, 140, 100), (140, 95, 65), (95, 62, 45))]
HAIR_COLOURS = [_rgb(*c) for c in ((20, 18, 18), (50, 35, 25), (95, 65, 40), (160, 120, 70), (200, 170, 110),
                                   (120, 120, 120))]
SHOE_COLOURS = [_rgb(*c) for c in ((20, 20, 22), (235, 235, 235), (110, 70, 40), (90, 90, 95), (190, 40, 40),
                                   (40, 70, 150))]
BAG_COLOURS = [_rgb(*c) for c in ((25, 25, 28), (90, 60, 35), (170, 40, 40), (40, 60, 130), (200, 180, 130),
                                  (60, 110, 60), (230, 120, 40), (140, 140, 145))]
PATTERNS = ("plain", "plain", "hstripes", "vstripes", "checks", "logo", "jacket", "twotone")
BAGS = ("none", "none", "backpack", "shoulder", "handbag")
VIEWS = ("front", "back", "side")


@dataclass
class Appearance:
    """Everything that makes an identity recognisable."""

    skin: np.ndarray
    hair: np.ndarray
    long_hair: bool
    upper: np.ndarray
    upper2: np.ndarray
    pattern: str
    stripe: float  # stripe period, as a fraction of the person's height
    long_sleeves: bool
    lower: np.ndarray
    lower_type: str  # trousers, shorts, skirt
    shoes: np.ndarray
    bag: str
    bag_colour: np.ndarray
    bag_side: int  # +1 or -1: the side of a shoulder bag or handbag, seen from the front
    hat: bool
    hat_colour: np.ndarray
    width: float  # build: shoulder/hip width factor
    height: float  # stature: factor on the camera's person height


@dataclass
class Camera:
    """One camera: its scene and how it renders light, colour and sharpness."""

    scene: np.ndarray  # SCENE_H x SCENE_W x 3 float32
    gain: float
    cast: np.ndarray
    gamma: float
    saturation: float
    haze: float
    haze_colour: np.ndarray
    blur: float
    lowres: float  # downsampling factor before upsampling back (1 = full resolution)
    noise: float  # std of additive noise, on the 0..255 scale
    scale: float  # person height as a fraction of the image height
    foot_margin: float  # pixels between the feet and the bottom of the image
    views: np.ndarray  # probabilities of front, back, side
    jpeg_quality: int
    occlusion: float  # probability that an image of this camera is occluded


def _jitter(colour, rng, amount):
    return np.clip(colour + rng.normal(0.0, amount, 3).astype(np.float32), 0.0, 1.0)


def _pick(rng, items, p=None):
    return items[int(rng.choice(len(items), p=p))]


def sample_appearance(rng):
    """A random person."""
    upper = _jitter(_pick(rng, TOP_COLOURS), rng, 0.06)
    upper2 = _pick(rng, TOP_COLOURS)
    while np.abs(upper2 - upper).sum() < 0.6:
        upper2 = _pick(rng, TOP_COLOURS)
    lower_type = _pick(rng, ("trousers", "trousers", "trousers", "shorts", "skirt"))
    return Appearance(
        skin=_jitter(_pick(rng, SKIN_COLOURS), rng, 0.02),
        hair=_jitter(_pick(rng, HAIR_COLOURS), rng, 0.02),
        long_hair=bool(rng.random() < 0.3),
        upper=upper,
        upper2=_jitter(upper2, rng, 0.04),
        pattern=_pick(rng, PATTERNS),
        stripe=float(rng.uniform(0.06, 0.1)),
        long_sleeves=bool(rng.random() < 0.55),
        lower=_jitter(_pick(rng, BOTTOM_COLOURS, BOTTOM_WEIGHTS / BOTTOM_WEIGHTS.sum()), rng, 0.04),
        lower_type=lower_type,
        shoes=_jitter(_pick(rng, SHOE_COLOURS), rng, 0.03),
        bag=_pick(rng, BAGS),
        bag_colour=_jitter(_pick(rng, BAG_COLOURS), rng, 0.03),
        bag_side=int(rng.choice((-1, 1))),
        hat=bool(rng.random() < 0.15),
        hat_colour=_jitter(_pick(rng, TOP_COLOURS), rng, 0.03),
        width=float(rng.uniform(0.85, 1.15)),
        height=float(rng.uniform(0.92, 1.04)),
    )


def signature(a):
    """The visible details that tell near-twins apart."""
    return (a.pattern, a.bag, a.long_hair, a.hat, a.long_sleeves, a.lower_type)


def family_variant(base, rng, siblings=()):
    """A near-twin of `base`: the same clothing colours (up to a slight shade) but 1-2 visible details
    changed (pattern, bag, hair, hat, sleeves or cut of the bottoms; sometimes the shoes too), differing in
    those details from every appearance in `siblings`."""
    taken = {signature(x) for x in siblings} | {signature(base)}
    for _ in range(20):
        fresh = sample_appearance(rng)
        a = replace(base, upper=_jitter(base.upper, rng, 0.02), lower=_jitter(base.lower, rng, 0.02),
                    width=float(np.clip(base.width + rng.normal(0, 0.05), 0.85, 1.15)))
        for c in rng.choice(5, size=int(rng.integers(1, 3)), replace=False):
            if c == 0:  # another pattern (or another secondary colour)
                a.pattern = fresh.pattern if fresh.pattern != base.pattern else "plain"
                if a.pattern == base.pattern:
                    a.pattern = "hstripes"
                a.upper2, a.stripe = fresh.upper2, fresh.stripe
            elif c == 1:  # another bag
                a.bag = fresh.bag if fresh.bag != base.bag else ("backpack" if base.bag == "none" else "none")
                a.bag_colour, a.bag_side = fresh.bag_colour, fresh.bag_side
            elif c == 2:  # other hair
                a.hair, a.long_hair = fresh.hair, not base.long_hair
            elif c == 3:  # hat or no hat
                a.hat, a.hat_colour = not base.hat, fresh.hat_colour
            else:  # sleeves, or the cut of the bottoms
                if rng.random() < 0.5:
                    a.long_sleeves = not base.long_sleeves
                else:
                    a.lower_type = "trousers" if base.lower_type != "trousers" else _pick(rng, ("shorts", "skirt"))
        if rng.random() < 0.3:
            a.shoes = fresh.shoes
        if signature(a) not in taken:
            return a
    return sample_appearance(rng)  # no distinct twin found: an unrelated person instead


# ------------------------------------------------------------------------------------------- coverage


def _window(x0, x1, y0, y1):
    """Row/column slices of the canvas covering [x0, x1] x [y0, y1] (pixels), or None when empty."""
    r0, r1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)) + 1, H)
    c0, c1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, W)
    if r0 >= r1 or c0 >= c1:
        return None
    return (slice(r0, r1), slice(c0, c1))


def capsule(p0, p1, r0, r1=None):
    """(window, coverage) of a tapered segment from p0 (radius r0) to p1 (radius r1), pixel units."""
    r1 = r0 if r1 is None else r1
    rm = max(r0, r1) + 1.0
    win = _window(min(p0[0], p1[0]) - rm, max(p0[0], p1[0]) + rm, min(p0[1], p1[1]) - rm, max(p0[1], p1[1]) + rm)
    if win is None:
        return None, None
    X, Y = _XX[win], _YY[win]
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    t = np.clip(((X - p0[0]) * dx + (Y - p0[1]) * dy) / (dx * dx + dy * dy + 1e-6), 0.0, 1.0)
    d = np.hypot(p0[0] + t * dx - X, p0[1] + t * dy - Y)
    return win, np.clip(r0 + (r1 - r0) * t - d + 0.5, 0.0, 1.0)


def ellipse(c, rx, ry):
    win = _window(c[0] - rx - 1, c[0] + rx + 1, c[1] - ry - 1, c[1] + ry + 1)
    if win is None:
        return None, None
    X, Y = _XX[win], _YY[win]
    k = np.sqrt(((X - c[0]) / rx) ** 2 + ((Y - c[1]) / ry) ** 2)
    return win, np.clip(0.5 - (k - 1.0) * min(rx, ry), 0.0, 1.0)


def polygon(pts):
    """(window, coverage) of a convex polygon given as a sequence of (x, y) pixel points."""
    pts = np.asarray(pts, dtype=np.float32)
    win = _window(pts[:, 0].min() - 1, pts[:, 0].max() + 1, pts[:, 1].min() - 1, pts[:, 1].max() + 1)
    if win is None:
        return None, None
    X, Y = _XX[win], _YY[win]
    area = np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    sign = 1.0 if area > 0 else -1.0
    sd = None
    for (x0, y0), (x1, y1) in zip(pts, np.roll(pts, -1, axis=0)):
        ex, ey = x1 - x0, y1 - y0
        length = float(np.hypot(ex, ey)) + 1e-6
        d = ((X - x0) * ey - (Y - y0) * ex) * (sign / length)
        sd = d if sd is None else np.maximum(sd, d)
    return win, np.clip(0.5 - sd, 0.0, 1.0)


class Layer:
    """A premultiplied RGBA layer the size of the image."""

    def __init__(self):
        self.rgb = np.zeros((H, W, 3), np.float32)
        self.alpha = np.zeros((H, W), np.float32)

    def paint(self, shape, colour):
        """Paint `shape` (window, coverage) with a colour (3,) or a function of the window giving (h, w, 3)."""
        win, cov = shape
        if win is None:
            return
        col = colour(win) if callable(colour) else colour
        c = cov[..., None]
        self.rgb[win] = self.rgb[win] * (1.0 - c) + col * c
        self.alpha[win] = self.alpha[win] + cov * (1.0 - self.alpha[win])


# --------------------------------------------------------------------------------------------- people


@dataclass
class Pose:
    view: str  # front, back, side
    facing: int  # side view: +1 walks to the right, -1 to the left
    phase: float  # walking phase (radians)
    stride: float  # leg swing amplitude (radians)
    lean: float  # horizontal shift of the head relative to the feet, fraction of height
    cx: float  # feet centre x, pixels
    bottom: float  # soles y, pixels
    height: float  # person height, pixels


def sample_pose(rng, camera, appearance, view=None):
    view = view or VIEWS[int(rng.choice(3, p=camera.views))]
    height = H * camera.scale * appearance.height * float(rng.uniform(0.94, 1.06))
    return Pose(
        view=view,
        facing=int(rng.choice((-1, 1))),
        phase=float(rng.uniform(0, 2 * np.pi)),
        stride=float(rng.uniform(0.05, 0.42)),
        lean=float(np.clip(rng.normal(0, 0.025), -0.06, 0.06)),
        cx=float(W / 2 + np.clip(rng.normal(0, 2.0), -5, 5)),
        bottom=float(H - camera.foot_margin + np.clip(rng.normal(0, 1.5), -4, 4)),
        height=height,
    )


def draw_person(layer, a, pose, shade=True):
    """Draw person `a` in `pose` into `layer`."""
    S = pose.height
    top = pose.bottom - S
    side = pose.view == "side"
    f = pose.facing if side else 1
    bw = a.width * BODY_WIDTH
    wf = bw * (0.72 if side else 1.0)

    def P(u, v):  # body coordinates (height units, u to the person's facing side in side view) -> pixels
        return (pose.cx + S * (f * u + pose.lean * (1.0 - v)), top + S * v)

    def R(r):
        return r * S

    s = np.sin(pose.phase)
    legs = []
    if side:
        for k, sgn in enumerate((1, -1)):
            th = pose.stride * s * sgn
            hip = (0.0, 0.5)
            knee = (hip[0] + 0.22 * np.sin(th), hip[1] + 0.22 * np.cos(th))
            th2 = th - max(0.0, -th) * 1.2  # the trailing leg bends at the knee
            ankle = (knee[0] + 0.22 * np.sin(th2), knee[1] + 0.22 * np.cos(th2))
            legs.append((hip, knee, ankle, k == 0))
    else:
        for k, sgn in enumerate((-1, 1)):
            x = sgn * 0.055 * wf
            lift = 0.035 * max(0.0, s * sgn)
            legs.append(((x, 0.5), (x * 1.05, 0.72 - lift * 0.5), (x * 1.1, 0.94 - lift), True))
    trouser_top = a.lower
    below_knee = a.skin if a.lower_type in ("shorts", "skirt") else a.lower
    far_dim = 0.8 if side else 1.0
    for hip, knee, ankle, near in legs:
        dim = 1.0 if near else far_dim
        layer.paint(capsule(P(*hip), P(*knee), R(0.05 * bw), R(0.042 * bw)), trouser_top * dim)
        layer.paint(capsule(P(*knee), P(*ankle), R(0.04 * bw), R(0.032 * bw)), below_knee * dim)
        toe = (ankle[0] + (0.03 if side else 0.0), ankle[1] + 0.025)
        layer.paint(ellipse(P(*toe), R(0.05 if side else 0.036), R(0.022)), a.shoes * dim)

    if a.lower_type == "skirt":
        layer.paint(polygon([P(-0.1 * wf, 0.46), P(0.1 * wf, 0.46), P(0.16 * wf, 0.7), P(-0.16 * wf, 0.7)]), a.lower)

    # Far arm (side view) goes behind the torso.
    swing = 0.5 * pose.stride * s
    arms = []
    if side:
        for sgn, near in ((-1, False), (1, True)):
            al = swing * sgn
            sh = (0.0, 0.19)
            el = (sh[0] + 0.16 * np.sin(al), sh[1] + 0.16 * np.cos(al))
            al2 = al + 0.35 * abs(al) + 0.1
            ha = (el[0] + 0.15 * np.sin(al2), el[1] + 0.15 * np.cos(al2))
            arms.append((sh, el, ha, near))
    else:
        for sgn in (-1, 1):
            sx = sgn * 0.13 * wf
            out = sgn * (0.02 + 0.015 * abs(s))
            arms.append(((sx, 0.19), (sx + out, 0.34), (sx + out * 1.3, 0.48 - 0.03 * abs(swing)), True))

    def draw_arm(sh, el, ha, dim):
        layer.paint(capsule(P(*sh), P(*el), R(0.036 * bw), R(0.031 * bw)), a.upper * dim)
        fore = a.upper if a.long_sleeves else a.skin
        layer.paint(capsule(P(*el), P(*ha), R(0.03 * bw), R(0.026 * bw)), fore * dim)
        layer.paint(ellipse(P(ha[0], ha[1] + 0.015), R(0.022), R(0.026)), a.skin * dim)

    for sh, el, ha, near in arms:
        if not near:
            draw_arm(sh, el, ha, 0.8)

    # Long hair behind the shoulders (front view) is drawn before the torso.
    if a.long_hair and pose.view == "front":
        layer.paint(polygon([P(-0.07, 0.06), P(0.07, 0.06), P(0.075, 0.23), P(-0.075, 0.23)]), a.hair)
    if side and a.bag == "backpack":
        layer.paint(polygon([P(-0.06, 0.18), P(-0.15, 0.2), P(-0.15, 0.4), P(-0.06, 0.41)]), a.bag_colour)

    # Torso with its pattern.
    torso = [P(-0.125 * wf, 0.165), P(0.125 * wf, 0.165), P(0.1 * wf, 0.52), P(-0.1 * wf, 0.52)]
    layer.paint(capsule(P(-0.1 * wf, 0.19), P(0.1 * wf, 0.19), R(0.035)), a.upper)  # round shoulders
    layer.paint(polygon(torso), _torso_texture(a, pose, P, S))

    bag_side = a.bag_side * (-1 if pose.view == "back" else 1)
    if a.bag == "backpack":
        if pose.view == "back":
            layer.paint(polygon([P(-0.095 * wf, 0.19), P(0.095 * wf, 0.19), P(0.09 * wf, 0.43), P(-0.09 * wf, 0.43)]),
                        a.bag_colour)
        elif pose.view == "front":
            for sgn in (-1, 1):
                layer.paint(capsule(P(sgn * 0.075 * wf, 0.17), P(sgn * 0.08 * wf, 0.36), R(0.016)), a.bag_colour)
    elif a.bag == "shoulder":
        if not side:
            layer.paint(capsule(P(-bag_side * 0.09 * wf, 0.18), P(bag_side * 0.12 * wf, 0.44), R(0.012)),
                        a.bag_colour * 0.85)
        bx = bag_side * 0.15 * wf if not side else 0.02
        layer.paint(polygon([P(bx - 0.06, 0.42), P(bx + 0.06, 0.42), P(bx + 0.065, 0.55), P(bx - 0.065, 0.55)]),
                    a.bag_colour)

    for sh, el, ha, near in arms:
        if near:
            draw_arm(sh, el, ha, 1.0)
    if a.bag == "handbag":
        if side:
            ha = arms[1][2]
        else:
            ha = arms[0][2] if bag_side < 0 else arms[1][2]
        layer.paint(polygon([P(ha[0] - 0.045, ha[1] + 0.02), P(ha[0] + 0.045, ha[1] + 0.02),
                             P(ha[0] + 0.05, ha[1] + 0.11), P(ha[0] - 0.05, ha[1] + 0.11)]), a.bag_colour)

    # Neck, head, hair, hat.
    layer.paint(capsule(P(0, 0.12), P(0, 0.17), R(0.025)), a.skin)
    head_c, hrx, hry = P(0.0, 0.075), R(0.056), R(0.068)
    if pose.view == "back":
        layer.paint(ellipse(head_c, hrx, hry), a.hair)
        if a.long_hair:
            layer.paint(polygon([P(-0.065, 0.08), P(0.065, 0.08), P(0.075, 0.25), P(-0.075, 0.25)]), a.hair)
    else:
        layer.paint(ellipse(head_c, hrx, hry), a.skin)
        cap_c = P(-0.01 if side else 0.0, 0.05)
        win, cov = ellipse(cap_c, hrx * 1.03, hry * 0.8)
        if win is not None:
            # Hair covers the top of the head (and the back of it in side view).
            Y = _YY[win]
            X = _XX[win]
            keep = (Y < head_c[1] - 0.15 * hry).astype(np.float32)
            if side:
                keep = np.maximum(keep, ((X - head_c[0]) * f < -0.2 * hrx).astype(np.float32))
            layer.paint((win, cov * keep), a.hair)
        if a.long_hair and side:
            layer.paint(polygon([P(-0.06, 0.06), P(-0.01, 0.07), P(-0.03, 0.22), P(-0.08, 0.21)]), a.hair)
    if a.hat:
        layer.paint(ellipse(P(0.0, 0.03), R(0.064), R(0.036)), a.hat_colour)
        layer.paint(capsule(P(-0.07 if not side else -0.04, 0.05), P(0.07 if not side else 0.1, 0.05), R(0.012)),
                    a.hat_colour * 0.85)

    if shade:
        # Round bodies: darker towards the silhouette's sides, lighter on top.
        xc = pose.cx + S * pose.lean * (1.0 - (_YY[:, :1] - top) / S)
        d = (_XX - xc) / (0.16 * S * max(wf, 0.5))
        sh = 1.0 - 0.3 * np.clip(d * d, 0.0, 1.0) + 0.08 * np.clip(1.0 - (_YY - top) / (0.5 * S), 0.0, 1.0)
        layer.rgb *= sh[..., None]


def _torso_texture(a, pose, P, S):
    """Colour function of the torso window: the top's pattern in body coordinates."""
    upper, upper2 = a.upper, a.upper2
    pattern = a.pattern
    if pattern in ("logo", "jacket") and pose.view != "front":
        pattern = "plain"  # logos and open jackets show only from the front
    if pattern == "plain":
        return upper
    top = P(0, 0)[1]
    period = a.stripe * S

    def texture(win):
        X, Y = _XX[win], _YY[win]
        v = (Y - top) / S
        xc = P(0.0, 0.0)[0] - S * pose.lean * v  # body centre line at each row
        u = (X - xc) / S
        if pattern == "hstripes":
            m = np.clip(np.sin(2 * np.pi * (Y - top) / period) * 2.0 + 0.5, 0, 1)
        elif pattern == "vstripes":
            m = np.clip(np.sin(2 * np.pi * u * S / (period * 0.8)) * 2.0 + 0.5, 0, 1)
        elif pattern == "checks":
            m = np.clip(np.sin(2 * np.pi * (Y - top) / period) * np.sin(2 * np.pi * u * S / period) * 3.0 + 0.5, 0, 1)
        elif pattern == "logo":
            m = np.clip(0.5 - (np.hypot(u / 0.05, (v - 0.29) / 0.05) - 1.0) * 0.05 * S, 0, 1)
        elif pattern == "jacket":
            m = np.clip(0.5 - (np.abs(u) - 0.035 * a.width) * S, 0, 1)
        else:  # twotone: a different colour below the chest
            m = np.clip((v - 0.36) * S + 0.5, 0, 1)
        m = m[..., None]
        return upper * (1.0 - m) + upper2 * m

    return texture


# --------------------------------------------------------------------------------------------- scenes


def _smooth_noise(rng, h, w, cells):
    grid = rng.normal(0.0, 1.0, (max(2, h // cells), max(2, w // cells))).astype(np.float32)
    img = Image.fromarray(grid, mode="F").resize((w, h), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def _hsv(h, s, v):
    """One colour from hue/saturation/value in 0..1."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], dtype=np.float32)


def make_scene(rng, kind, hue):
    """A camera's scene: a `kind` backdrop (building, trees, indoor, fence) over a textured floor, plus
    clutter; `hue` (0..1) tints the backdrop."""
    h, w = SCENE_H, SCENE_W
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(h * rng.uniform(0.4, 0.72))
    base = _hsv(hue, rng.uniform(0.03, 0.25) * SCENE_SAT, rng.uniform(0.35, 0.8))
    img = np.empty((h, w, 3), np.float32)
    grad = (0.85 + 0.3 * Y[:horizon, :, None] / horizon)
    img[:horizon] = base * grad
    if kind == "trees":
        sky = _hsv(rng.uniform(0.5, 0.65), rng.uniform(0.05, 0.35), rng.uniform(0.7, 0.98))
        img[:horizon] = sky * (1.1 - 0.25 * Y[:horizon, :, None] / horizon)
        for _ in range(int(rng.integers(3, 8))):
            cx, cy = rng.uniform(0, w), rng.uniform(0.2 * horizon, horizon)
            rx, ry = rng.uniform(14, 40), rng.uniform(14, 35)
            m = np.clip(1.5 - np.hypot((X - cx) / rx, (Y - cy) / ry) * 1.5, 0, 1)[..., None]
            green = _hsv(rng.uniform(0.2, 0.4), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.6))
            img = img * (1 - m) + green * m
            tx = int(cx)
            img[int(cy):horizon, max(tx - 2, 0):tx + 2] = _rgb(70, 50, 35)
    elif kind == "building":
        gx, gy = int(rng.integers(14, 30)), int(rng.integers(16, 30))
        ww, wh = int(gx * rng.uniform(0.4, 0.75)), int(gy * rng.uniform(0.4, 0.7))
        glass = _hsv(rng.uniform(0.5, 0.7), rng.uniform(0.1, 0.4), rng.uniform(0.15, 0.8))
        ox, oy = int(rng.integers(0, gx)), int(rng.integers(0, gy))
        wmask = (((X[:horizon] + ox) % gx) < ww) & (((Y[:horizon] + oy) % gy) < wh) & (Y[:horizon] < horizon - 10)
        img[:horizon][wmask] = glass
    elif kind == "indoor":
        for _ in range(int(rng.integers(3, 7))):
            x0, y0 = int(rng.uniform(0, w - 10)), int(rng.uniform(0, horizon - 10))
            x1, y1 = x0 + int(rng.uniform(10, 45)), y0 + int(rng.uniform(10, 50))
            colour = _hsv(rng.random(), rng.uniform(0.1, 0.7) * SCENE_SAT, rng.uniform(0.2, 0.9))
            img[y0:min(y1, horizon), x0:x1] = colour
    else:  # fence / railing
        period = int(rng.integers(6, 14))
        rail = _hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.1, 0.6))
        fmask = ((X[:horizon] % period) < 2) & (Y[:horizon] > horizon * 0.45)
        img[:horizon][fmask] = rail
        img[int(horizon * 0.45):int(horizon * 0.45) + 3] = rail
    # Floor: a colour, perspective tiles or stripes, and blotches.
    floor = _hsv(rng.random(), rng.uniform(0.0, 0.25) * SCENE_SAT, rng.uniform(0.3, 0.75))
    fy = Y[horizon:] - horizon
    img[horizon:] = floor * (0.9 + 0.2 * fy[..., None] / max(h - horizon, 1))
    if rng.random() < 0.6:
        spacing = rng.uniform(6, 14)
        depth = np.sqrt(fy + 1.0) * spacing
        lines = (np.abs((depth % (spacing * 2.5)) - spacing) < 0.9)
        xs = ((X[horizon:] - w / 2) / (0.3 + fy / (h - horizon)) % rng.uniform(20, 40)) < 1.2
        img[horizon:][lines | xs] *= 0.8
    # Clutter along the horizon: cars, benches, signs, bins, poles.
    for _ in range(int(rng.integers(2, 7))):
        x0 = int(rng.uniform(-10, w))
        bw, bh = int(rng.uniform(4, 40)), int(rng.uniform(8, 45))
        y1 = horizon + int(rng.uniform(-5, 20))
        img[max(y1 - bh, 0):max(y1, 0), max(x0, 0):max(x0 + bw, 0)] = _hsv(
            rng.random(), rng.uniform(0.0, 0.6) * SCENE_SAT, rng.uniform(0.15, 0.85))
    img *= (1.0 + 0.12 * _smooth_noise(rng, h, w, 12))[..., None]
    img += rng.normal(0.0, 0.02, img.shape).astype(np.float32)
    mean = img.mean(axis=(0, 1))
    # Scenes differ in layout and texture more than in overall colour: pull the mean towards grey, then
    # lower the contrast so that people stand out.
    target = mean + SCENE_MEAN_PULL * (SCENE_GREY - mean)
    img = target + SCENE_CONTRAST * (img - mean)
    return np.clip(img, 0.0, 1.0)


SCENE_KINDS = ("building", "trees", "indoor", "fence")
CASTS = [np.array(c, dtype=np.float32) for c in (
    (1.0, 1.0, 1.0), (1.18, 1.0, 0.78), (0.82, 0.98, 1.22), (0.9, 1.12, 0.88), (1.12, 0.88, 1.08), (1.1, 1.05, 0.7))]


def make_cameras(rng, n):
    """`n` cameras, each with its own scene, light, colour cast, person scale and image quality.

    Each property is spread over its range (stratified: one value per n-th of the range, shuffled) and
    the scene kinds and colour casts are dealt out in turn, so that any seed gives a varied set of
    cameras rather than, by chance, several alike.
    """

    def spread(lo, hi):
        return lo + (hi - lo) * (rng.permutation(n) + rng.random(n)) / n

    def deal(items):
        order = [items[k] for k in rng.permutation(len(items))]
        return [order[k % len(order)] for k in range(n)]

    gain, gamma, sat = spread(0.6, 1.3), spread(0.8, 1.2), spread(0.7, 1.15)
    haze, blur, noise = spread(0.0, 0.15), spread(0.0, 1.3), spread(1.5, 7.0)
    scale, margin, occlusion = spread(0.8, 0.93), spread(2.0, 6.0), spread(0.1, 0.3)
    quality, hue = spread(70, 96), spread(0.0, 1.0)
    casts, kinds, lowres = deal(CASTS), deal(SCENE_KINDS), deal((1.0, 1.0, 1.6, 2.2))
    cameras = []
    for c in range(n):
        cast = 1.0 + CAST * (casts[c] * rng.uniform(0.93, 1.07, 3).astype(np.float32) - 1.0)
        cameras.append(Camera(
            scene=make_scene(rng, kinds[c], float(hue[c])),
            gain=float(gain[c]),
            cast=cast.astype(np.float32),
            gamma=float(gamma[c]),
            saturation=float(sat[c]),
            haze=float(haze[c]),
            haze_colour=_hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.5, 1.0)),
            blur=float(blur[c]),
            lowres=float(lowres[c]),
            noise=float(noise[c]),
            scale=float(scale[c]),
            foot_margin=float(margin[c]),
            views=rng.dirichlet((2.0, 2.0, 1.0)),
            jpeg_quality=int(quality[c]),
            occlusion=float(occlusion[c]),
        ))
    return cameras


# ---------------------------------------------------------------------------------------------- images


def _background(camera, rng):
    y = int(rng.integers(0, SCENE_H - H + 1))
    x = int(rng.integers(0, SCENE_W - W + 1))
    bg = camera.scene[y:y + H, x:x + W].copy()
    if rng.random() < 0.5:
        bg = bg[:, ::-1].copy()
    return bg


def _compose(img, layer):
    a = layer.alpha[..., None]
    return img * (1.0 - a) + layer.rgb


def _shadow(img, pose):
    win, cov = ellipse((pose.cx, pose.bottom), 0.2 * pose.height, 0.03 * pose.height)
    if win is not None:
        img[win] *= (1.0 - 0.35 * cov)[..., None]


def _occlude(img, camera, rng, pose):
    """Cover part of the person: another passer-by, an object at the bottom, a pole or a block."""
    kind = _pick(rng, ("person", "person", "bottom", "pole", "block"))
    if kind == "person":
        other = sample_appearance(rng)
        op = sample_pose(rng, camera, other)
        op.cx = pose.cx + float(rng.choice((-1, 1)) * rng.uniform(0.45, 0.8) * W)
        op.bottom = pose.bottom + float(rng.uniform(0, 10))
        op.height = pose.height * float(rng.uniform(0.95, 1.15))
        layer = Layer()
        draw_person(layer, other, op)
        return _compose(img, layer)
    colour = _hsv(rng.random(), rng.uniform(0.0, 0.7), rng.uniform(0.1, 0.9))
    if kind == "bottom":
        y0 = int(H * rng.uniform(0.62, 0.85))
        x0, x1 = sorted(rng.integers(-20, W + 20, 2))
        x0, x1 = max(int(x0), 0), min(max(int(x1), int(x0) + 25), W)
        img[y0:, x0:x1] = colour * (0.9 + 0.2 * np.linspace(0, 1, H - y0, dtype=np.float32)[:, None, None])
    elif kind == "pole":
        x0 = int(rng.uniform(8, W - 14))
        img[:, x0:x0 + int(rng.integers(3, 8))] = colour
    else:
        bh, bw = int(H * rng.uniform(0.2, 0.4)), int(W * rng.uniform(0.3, 0.7))
        y0, x0 = int(rng.integers(0, H - bh)), int(rng.integers(0, W - bw))
        img[y0:y0 + bh, x0:x0 + bw] = colour
    return img


def apply_camera(img, camera, rng):
    """The camera's light, colour, tone, resolution, blur and noise; returns uint8 H x W x 3."""
    img = img * (camera.cast * camera.gain * float(rng.uniform(0.88, 1.12)))
    img = np.clip(img, 0.0, 1.0) ** camera.gamma
    grey = img.mean(axis=2, keepdims=True)
    img = grey + camera.saturation * (img - grey)
    img = img * (1.0 - camera.haze) + camera.haze_colour * camera.haze
    out = Image.fromarray(np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if camera.lowres > 1.0:
        small = (max(int(W / camera.lowres), 8), max(int(H / camera.lowres), 16))
        out = out.resize(small, Image.BILINEAR).resize((W, H), Image.BILINEAR)
    blur = camera.blur * float(rng.uniform(0.8, 1.2))
    if blur > 0.25:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(out, dtype=np.float32) + rng.normal(0.0, camera.noise, (H, W, 3)).astype(np.float32)
    return np.clip(arr + 0.5, 0, 255).astype(np.uint8)


def render_person_image(appearance, camera, rng, occluded=None):
    """An image of `appearance` seen by `camera` (pose, background crop and occlusion drawn from `rng`)."""
    img = _background(camera, rng)
    pose = sample_pose(rng, camera, appearance)
    behind = rng.random() < 0.3
    occluded = (rng.random() < camera.occlusion) if occluded is None else occluded
    if occluded and behind:
        img = _occlude(img, camera, rng, pose) if rng.random() < 0.5 else img
    _shadow(img, pose)
    layer = Layer()
    draw_person(layer, appearance, pose)
    img = _compose(img, layer)
    if occluded and not behind:
        img = _occlude(img, camera, rng, pose)
    return apply_camera(img, camera, rng)


def render_junk_image(camera, rng):
    """A bad detection: background only, a sliver of a person at the border, or a close-up of a body part."""
    img = _background(camera, rng)
    kind = _pick(rng, ("background", "edge", "part", "part"))
    if kind != "background":
        a = sample_appearance(rng)
        pose = sample_pose(rng, camera, a)
        if kind == "edge":
            pose.cx = float(rng.choice((-1, 1)) * rng.uniform(0.4, 0.6) * W + W / 2)
        else:
            pose.height = H * float(rng.uniform(1.8, 3.0))
            pose.bottom = H + pose.height * float(rng.uniform(-0.05, 0.6))
            pose.cx += float(rng.uniform(-12, 12))
        layer = Layer()
        draw_person(layer, a, pose)
        img = _compose(img, layer)
    return apply_camera(img, camera, rng)
