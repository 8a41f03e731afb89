"""Time and peak memory of the ranking metrics and of k-reciprocal re-ranking, each against a plain
baseline kept in this file, in one run.

    python benchmarks/evaluation.py                  # Market-1501 scale: 3,368 queries, 15,913 gallery, 2048-d
    python benchmarks/evaluation.py --scale 0.25     # a quick run
    python benchmarks/evaluation.py --device cuda    # our parts on the GPU (the baselines stay on the CPU)

Parts, each measured in a fresh subprocess of this script (`--part X`), all from the same features:
  a  ours: reid_gc.evaluation.evaluate_features (distances block by block, mAP/CMC/mINP)
  b  baseline: the common implementation (torch distance matrix, numpy argsort of all of it, then a
     Python loop over queries with a boolean mask, cumulative sums and the per-rank precision list of
     the strong baseline's eval_func)
  b2 baseline b with the per-rank precision list replaced by numpy arithmetic (for reference)
  c  ours: reid_gc.evaluation.re_ranking
  d  baseline: a plain dense version of the published re-ranking code (dense N x N distances, ranks,
     V and Jaccard matrices, loops over rows)
  r  ours: evaluate_features with roc=True (mAP/CMC plus the exact ROC, AUC and TPR at FPR 1e-4/1e-3/1e-2
     over all 53.6 million pairs); compared with a: the ROC's cost is r - a, its target at most 3x a
c and d are scored afterwards with evaluate, outside the measurement. Targets on a 2-core CPU: a at
least 30x faster than b within 1 GB; c at least 8x faster than d within 35% of its peak; mAP and Rank-1
agreeing within 0.1 points; r - a at most 3x a, r within a's peak memory.

time s is wall-clock, cpu s the process's CPU time over all its threads (steadier than wall-clock
when other jobs share the cores). peak MB is the rise of the peak RSS over the RSS once the features
are built (the peak is reset there through /proc/self/clear_refs); on CUDA the rise of
torch.cuda.max_memory_allocated is shown as well. Unless set, OMP_WAIT_POLICY=PASSIVE is given to the
parts: with libgomp's default spinning, torch's parallel regions stall badly on shared cores.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

from _common import pick_device, sync

import numpy as np
import torch

from reid_gc.evaluation import evaluate, evaluate_features, re_ranking
from reid_gc.utils.errors import UserError

PARTS = {
    "a": "a) ours: evaluate_features",
    "b": "b) baseline: argsort + per-query loop",
    "b2": "b2) baseline b, numpy precision",
    "c": "c) ours: re_ranking",
    "d": "d) baseline: dense published re-ranking",
    "r": "r) ours: evaluate_features + ROC",
}


# --------------------------------------------------------------------------------------------- data
def make_data(scale, seed, dim=2048, num_ids=751, num_cams=6, group=3, look_alike=0.52, noise=1.5):
    """Clustered features, L2-normalised. Identities come in groups of `group` look-alikes (a shared
    centre plus a small per-id offset), every camera adds its own shift, every image Gaussian noise;
    gallery id 0 are distractors with centres of their own. With the defaults the original distance
    gives about 79% mAP / 79% Rank-1 and re-ranking about 97% / 98% at full scale."""
    num_query, num_gallery = max(2, round(3368 * scale)), max(2, round(15913 * scale))
    num_distractors = round(num_gallery * 2798 / 15913)
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn((num_ids + group - 1) // group, dim, generator=gen)
    centres = base.repeat_interleave(group, 0)[:num_ids] + look_alike * torch.randn(num_ids, dim, generator=gen)
    cam_shift = 0.5 * torch.randn(num_cams, dim, generator=gen)
    q_pids = torch.randint(1, num_ids, (num_query,), generator=gen)
    g_pids = torch.cat([torch.randint(1, num_ids, (num_gallery - num_distractors,), generator=gen),
                        torch.zeros(num_distractors, dtype=torch.int64)])
    q_cams = torch.randint(0, num_cams, (num_query,), generator=gen)
    g_cams = torch.randint(0, num_cams, (num_gallery,), generator=gen)

    def features(pids, cams):
        x = torch.randn(len(pids), dim, generator=gen).mul_(noise)
        own = pids > 0
        x[own] += centres[pids[own]]
        x[~own] += 1.4 * torch.randn(int((~own).sum()), dim, generator=gen)
        x += cam_shift[cams]
        return torch.nn.functional.normalize(x, dim=1)

    qf, gf = features(q_pids, q_cams), features(g_pids, g_cams)
    return qf, gf, q_pids.numpy(), g_pids.numpy(), q_cams.numpy(), g_cams.numpy()


# ---------------------------------------------------------------------------------- baselines (b, d)
def torch_distmat(x, y):
    """Squared Euclidean distances as the strong baseline computes them (torch addmm), as numpy."""
    xx = x.pow(2).sum(1, keepdim=True)
    yy = y.pow(2).sum(1, keepdim=True)
    return (xx + yy.t()).addmm_(x, y.t(), beta=1, alpha=-2).numpy()


def baseline_eval(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, precision_list=True):
    """The common evaluation: argsort every row, then loop over queries."""
    num_q = distmat.shape[0]
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc, all_ap, all_inp = [], [], []
    for q_idx in range(num_q):
        order = indices[q_idx]
        junk = (g_pids[order] == q_pids[q_idx]) & (g_camids[order] == q_camids[q_idx])
        hits = matches[q_idx][~junk]
        if not np.any(hits):
            continue
        cum = hits.cumsum()
        last = np.nonzero(hits)[0][-1]
        all_inp.append(cum[last] / (last + 1.0))
        all_cmc.append(np.minimum(cum, 1)[:max_rank])
        if precision_list:
            precision = np.asarray([x / (i + 1.0) for i, x in enumerate(cum)])
        else:
            precision = cum / np.arange(1.0, len(cum) + 1.0)
        all_ap.append((precision * hits).sum() / hits.sum())
    cmc = np.asarray(all_cmc).astype(np.float32).sum(0) / len(all_cmc)
    return float(np.mean(all_ap)), float(np.mean(all_inp)), cmc


def dense_re_ranking(qf, gf, k1=20, k2=6, lambda_value=0.3):
    """The published algorithm written plainly with dense N x N arrays and loops over rows."""
    num_query = qf.shape[0]
    feat = torch.cat([qf, gf])
    num_all = feat.shape[0]
    dist = torch_distmat(feat, feat)
    dist = np.transpose(dist / np.max(dist, axis=0))
    V = np.zeros_like(dist, dtype=np.float32)
    initial_rank = np.argsort(dist).astype(np.int32)
    half = int(np.around(k1 / 2))
    for i in range(num_all):
        forward = initial_rank[i, :k1 + 1]
        backward = initial_rank[forward, :k1 + 1]
        k_recip = forward[np.where(backward == i)[0]]
        expansion = k_recip
        for cand in k_recip:
            cand_forward = initial_rank[cand, :half + 1]
            cand_backward = initial_rank[cand_forward, :half + 1]
            cand_recip = cand_forward[np.where(cand_backward == cand)[0]]
            if len(np.intersect1d(cand_recip, k_recip)) > 2 / 3 * len(cand_recip):
                expansion = np.append(expansion, cand_recip)
        expansion = np.unique(expansion)
        weight = np.exp(-dist[i, expansion])
        V[i, expansion] = weight / np.sum(weight)
    dist = dist[:num_query]
    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=np.float32)
        for i in range(num_all):
            V_qe[i] = np.mean(V[initial_rank[i, :k2]], axis=0)
        V = V_qe
    del initial_rank
    inverted = [np.where(V[:, f] != 0)[0] for f in range(num_all)]
    jaccard = np.zeros_like(dist, dtype=np.float32)
    for i in range(num_query):
        shared = np.zeros(num_all, dtype=np.float32)
        nonzero = np.where(V[i] != 0)[0]
        for f in nonzero:
            shared[inverted[f]] += np.minimum(V[i, f], V[inverted[f], f])
        jaccard[i] = 1 - shared / (2 - shared)
    final = jaccard * (1 - lambda_value) + dist * lambda_value
    return final[:, num_query:]


# ------------------------------------------------------------------------------------------ measuring
def _proc_status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\s+(\d+)", f.read()).group(1)) * 1024


def _cpu_seconds():
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak():
    """Start the peak-RSS count afresh; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_part(part, args):
    device = pick_device(args.device)
    qf, gf, q_pids, g_pids, q_cams, g_cams = make_data(args.scale, args.seed)
    labels = (q_pids, g_pids, q_cams, g_cams)
    if part in ("a", "c", "r"):
        qf, gf = qf.to(device), gf.to(device)
    cuda = device.type == "cuda" and part in ("a", "c", "r")
    if cuda:  # first use of the GPU (context, cuBLAS, kernels) outside the measurement
        if part in ("a", "r"):
            try:
                evaluate_features(qf[:64], gf[:256], q_pids[:64], g_pids[:256], q_cams[:64], g_cams[:256])
            except UserError:  # a small slice may hold no true match: the warm-up has happened anyway
                pass
        else:
            re_ranking(qf[:64], gf[:256])
        sync(device)
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    base_rss = _proc_status("VmRSS")
    reset = _reset_peak()  # without it the peak may include building the inputs (an overestimate)

    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    if part == "a":
        result = evaluate_features(qf, gf, *labels)
    elif part == "r":
        result = evaluate_features(qf, gf, *labels, roc=True)
    elif part in ("b", "b2"):
        mAP, mINP, cmc = baseline_eval(torch_distmat(qf, gf), *labels, precision_list=part == "b")
    elif part == "c":
        distmat = re_ranking(qf, gf)
    elif part == "d":
        distmat = dense_re_ranking(qf, gf)
    if cuda:  # the baselines never touch the GPU
        sync(device)
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu_seconds() - cpu_start
    peak = _proc_status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {"part": part, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": max(0, peak - base_rss) / 2**20,
           "device": str(device) if part in ("a", "c", "r") else "cpu", "queries": len(q_pids), "gallery": len(g_pids)}
    if cuda:
        out["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - base_alloc) / 2**20

    if part in ("c", "d"):  # scored outside the measurement, the same way for both
        result = evaluate(distmat, *labels)
    if part in ("a", "c", "d", "r"):
        mAP, mINP, cmc = result.mAP, result.mINP, result.cmc
    if part == "r":
        out.update(auc=result.roc.auc, tpr_at_fpr={str(p["fpr_target"]): p["tpr"] for p in result.roc.points})
    out.update(mAP=mAP, mINP=mINP, rank1=float(cmc[0]))
    print(json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of Market-1501's query and gallery sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=str(pick_device()),
                        help="device for our parts (cpu or cuda; default cuda when available); the baselines "
                             "run on the CPU")
    parser.add_argument("--parts", default="a,b,b2,c,d", help="comma-separated parts to run")
    parser.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part in this process
    args = parser.parse_args(argv)
    if args.part:
        run_part(args.part, args)
        return
    env = dict(os.environ)  # see the module docstring
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    rows, load_start = {}, os.getloadavg()[0]
    for part in args.parts.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--part", part, "--scale", str(args.scale),
               "--seed", str(args.seed), "--device", args.device]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"part {part} failed")
        rows[part] = json.loads(proc.stdout.strip().splitlines()[-1])
    first = next(iter(rows.values()))
    print(f"{first['queries']} queries x {first['gallery']} gallery, 2048-d, torch threads "
          f"{torch.get_num_threads()}, OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, our parts on {args.device}, "
          f"1-min load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end\n")
    print("| part | time s | cpu s | peak MB | mAP | Rank-1 | ratio |")
    print("|---|---:|---:|---:|---:|---:|---|")
    ratio_of = {"a": ("b", "b"), "b2": ("b2", "a"), "c": ("d", "d")}
    for part, row in rows.items():
        ratio = ""
        if part in ("a", "c") and ratio_of[part][0] in rows:
            base = rows[ratio_of[part][0]]
            ratio = (f"{base['seconds'] / row['seconds']:.1f}x faster than {ratio_of[part][0]}, "
                     f"{100 * row['peak_mb'] / max(base['peak_mb'], 1e-9):.0f}% of its peak")
        elif part == "r" and "a" in rows:
            extra = row["seconds"] - rows["a"]["seconds"]
            ratio = (f"ROC alone {extra:.2f} s = {extra / rows['a']['seconds']:.2f}x a; peak "
                     f"{100 * row['peak_mb'] / max(rows['a']['peak_mb'], 1e-9):.0f}% of a's; AUC {row['auc']:.4f}, "
                     f"TPR@FPR {row['tpr_at_fpr']}")
        elif part == "b2" and "a" in rows:
            ratio = f"a is {row['seconds'] / rows['a']['seconds']:.1f}x faster"
        peak = f"{row['peak_mb']:.0f}" + (f" (cuda {row['cuda_peak_mb']:.0f})" if "cuda_peak_mb" in row else "")
        print(f"| {PARTS[part]} | {row['seconds']:.2f} | {row['cpu_seconds']:.1f} | {peak} | {100 * row['mAP']:.2f} | "
              f"{100 * row['rank1']:.2f} | {ratio} |")
    for ours, base in (("a", "b"), ("c", "d")):
        if ours in rows and base in rows:
            d_map = abs(rows[ours]["mAP"] - rows[base]["mAP"]) * 100
            d_r1 = abs(rows[ours]["rank1"] - rows[base]["rank1"]) * 100
            print(f"\n{ours} vs {base}: |mAP diff| {d_map:.4f} points, |Rank-1 diff| {d_r1:.4f} points"
                  f" ({'agree' if d_map <= 0.1 and d_r1 <= 0.1 else 'DISAGREE'} within 0.1)")


if __name__ == "__main__":
    main()
