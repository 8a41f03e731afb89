"""Every backbone of the registry: trunk parameters and training-step images/s (forward + backward of the
whole re-id model on random images, SGD step excluded) against ResNet-50 in the same run.

    python benchmarks/backbones.py                            # CPU, 256x128, batch 8, median of 3 runs
    python benchmarks/backbones.py --names resnet50,se_resnext50 --repeats 5 --device cuda --batch 64

Models are interleaved run by run so that a change in machine load hits them all alike; each figure
is the median of --repeats timed steps after one untimed warm-up step.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as tools/train.py does

from _common import median, pick_device, time_call  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from reid_gc.modeling import Baseline  # noqa: E402
from reid_gc.modeling.backbones import BACKBONES  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", default=",".join(BACKBONES), help="comma-separated MODEL.NAMEs")
    parser.add_argument("--size", default="256,128", help="height,width")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    names = args.names.split(",")
    if "resnet50" not in names:
        names.insert(0, "resnet50")  # the baseline of the ratio column
    device = pick_device(args.device)
    h, w = map(int, args.size.split(","))
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, h, w, device=device)
    y = torch.arange(args.batch, device=device) % 4
    models = {n: Baseline(4, 1, n).to(device).train() for n in names}

    def step(model):
        def run():
            score, feat = model(x)
            (F.cross_entropy(score, y) + feat.pow(2).mean()).backward()
            model.zero_grad(set_to_none=True)
        return run

    times = {n: [] for n in names}
    for n in names:
        step(models[n])()  # warm-up
    for _ in range(args.repeats):
        for n in names:
            times[n].append(time_call(step(models[n]), device))
    base = args.batch / median(times["resnet50"])
    print(f"\n{device.type}, {torch.get_num_threads()} threads, {h}x{w}, batch {args.batch}, "
          f"median of {args.repeats}\n")
    print("| MODEL.NAME | trunk parameters (M) | train img/s (fwd+bwd) | vs resnet50 |")
    print("| --- | --- | --- | --- |")
    for n in names:
        params = sum(p.numel() for p in models[n].base.parameters()) / 1e6
        speed = args.batch / median(times[n])
        print(f"| {n} | {params:.1f} | {speed:.1f} | {speed / base:.2f} |")


if __name__ == "__main__":
    main()
