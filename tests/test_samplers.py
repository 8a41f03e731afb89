from collections import Counter

import pytest
import torch

from reid_gc.data.samplers import RandomIdentitySampler, ShardedRandomSampler, ShardedSequentialSampler
from reid_gc.utils.errors import UserError


def records(counts):
    """counts[pid] images of each pid, cameras cycling."""
    out = []
    for pid, n in enumerate(counts):
        out += [(f"{pid}_{i}.jpg", pid, i % 3) for i in range(n)]
    return out


def batches(sampler, size):
    idx = list(sampler)
    assert len(idx) == len(sampler)
    assert len(idx) % size == 0
    return [idx[i:i + size] for i in range(0, len(idx), size)]


def test_pk_batches_have_p_distinct_ids_with_k_images_each():
    recs = records([10, 7, 4, 2, 9, 12, 5, 1])  # ids 3 and 7 have fewer than K images
    s = RandomIdentitySampler(recs, batch_size=8, num_instances=4)
    # K-chunks per id: 2, 1, 1, 1 (2 drawn with replacement), 2, 3, 1, 1 = 12 -> 12 // P(2) = 6 batches
    assert s.num_batches == 6
    seen = Counter()
    for batch in batches(s, 8):
        pids = [recs[i][1] for i in batch]
        per_id = Counter(pids)
        assert len(per_id) == 2 and set(per_id.values()) == {4}
        # each chunk of K comes from one identity
        assert pids[0:4] == [pids[0]] * 4 and pids[4:8] == [pids[4]] * 4
        for i in batch:
            seen[i] += 1
    for pid in (0, 1, 2, 4, 5, 6):  # ids with >= K images draw without replacement within a chunk
        for batch in batches(s, 8):
            chunk_ids = [i for i in batch if recs[i][1] == pid]
            assert len(chunk_ids) in (0, 4, 8)


def test_small_identity_is_drawn_with_replacement():
    recs = records([1, 8])
    s = RandomIdentitySampler(recs, batch_size=8, num_instances=4)
    for batch in batches(s, 8):
        assert Counter(recs[i][1] for i in batch) == {0: 4, 1: 4}
        assert [i for i in batch if recs[i][1] == 0] == [0, 0, 0, 0]


def test_epochs_depend_on_seed_and_epoch_only():
    recs = records([6, 5, 9, 3, 8, 4, 7, 2, 10])
    s = RandomIdentitySampler(recs, batch_size=12, num_instances=3, seed=5)
    epochs = [list(s) for _ in range(4)]
    assert all(len(e) == len(s) for e in epochs)  # the length never varies
    assert len({tuple(e) for e in epochs}) == 4  # each epoch its own order
    torch.manual_seed(123)  # the global generator plays no part
    again = RandomIdentitySampler(recs, batch_size=12, num_instances=3, seed=5)
    again.set_epoch(2)  # as after resuming from the checkpoint of epoch 2
    assert list(again) == epochs[2] and list(again) == epochs[3]
    other = RandomIdentitySampler(recs, batch_size=12, num_instances=3, seed=6)
    assert list(other) != epochs[0]


def test_distributed_ranks_split_each_global_batch():
    recs = records([6, 5, 9, 3, 8, 4, 7, 2])
    single = batches(RandomIdentitySampler(recs, 16, 4, seed=3), 16)
    # every rank draws the same global order from the same seed and keeps its share
    parts = [batches(RandomIdentitySampler(recs, 16, 4, rank=rank, world_size=2, seed=3), 8) for rank in range(2)]
    assert len(parts[0]) == len(parts[1]) == len(single)
    for whole, a, b in zip(single, *parts):
        assert a + b == whole
        assert not {recs[i][1] for i in a} & {recs[i][1] for i in b}  # disjoint identities


def test_sampler_errors():
    with pytest.raises(UserError, match="multiple of DATALOADER.NUM_INSTANCE"):
        RandomIdentitySampler(records([4, 4]), 10, 4)
    with pytest.raises(UserError, match="needs 4 identities but the training set has 2"):
        RandomIdentitySampler(records([4, 4]), 16, 4)
    with pytest.raises(UserError, match="cannot be split over 3 processes"):
        RandomIdentitySampler(records([4] * 8), 16, 4, rank=0, world_size=3)


def test_sharded_samplers():
    shares = [list(ShardedRandomSampler(10, rank, 3, seed=0)) for rank in range(3)]
    assert all(len(s) == 3 for s in shares)
    flat = [i for s in shares for i in s]
    assert len(set(flat)) == 9 and set(flat) <= set(range(10))
    seq = [list(ShardedSequentialSampler(7, r, 3)) for r in range(3)]
    assert seq == [[0, 3, 6], [1, 4, 6], [2, 5, 6]]  # padded with the last index to equal length

