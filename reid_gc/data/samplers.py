"""Index samplers for training (P x K identities, or a plain shuffle) and evaluation, distributed-aware.

A training sampler draws each epoch from its own generator seeded by (seed, epoch), never from torch's
global one: every rank draws the same global order and keeps its own disjoint share, the order does not
depend on when the DataLoader happens to call it, and a run resumed at an epoch boundary (set_epoch)
draws exactly what the uninterrupted run drew.
"""
from collections import defaultdict

import torch
from torch.utils.data import Sampler

from ..utils.errors import UserError


class EpochSeeded(Sampler):
    """Base of the training samplers: each __iter__ is one epoch, drawn from generator(); set_epoch
    says which epoch the next __iter__ is (after a resume)."""

    stream = 0  # keeps the generators of different samplers apart

    def __init__(self, seed=0):
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _next_generator(self):
        g = torch.Generator()
        g.manual_seed((self.seed * 1_000_003 + self.epoch) * 7 + self.stream)
        self.epoch += 1
        return g


class RandomIdentitySampler(EpochSeeded):
    """Batches of P identities x K images (P = batch_size / K), ids split between ranks.

    An identity with fewer than K images is drawn with replacement. An epoch has a fixed number of
    batches (all of an epoch's K-chunks divided by P); identities that run out before the end are
    refilled, so every batch has P distinct identities and the epoch length never varies.
    """

    def __init__(self, records, batch_size, num_instances, rank=0, world_size=1, seed=0):
        super().__init__(seed)
        if batch_size % num_instances:
            raise UserError(f"SOLVER.IMS_PER_BATCH ({batch_size}) must be a multiple of "
                            f"DATALOADER.NUM_INSTANCE ({num_instances})")
        self.k = num_instances
        self.p = batch_size // num_instances
        if self.p % world_size:
            raise UserError(f"{self.p} identities per batch cannot be split over {world_size} processes: make "
                            "SOLVER.IMS_PER_BATCH / DATALOADER.NUM_INSTANCE a multiple of the process count")
        self.rank, self.world_size = rank, world_size
        by_pid = defaultdict(list)
        for index, (_, pid, _) in enumerate(records):
            by_pid[pid].append(index)
        self.pids = sorted(by_pid)
        self.index_of = [torch.tensor(by_pid[pid]) for pid in self.pids]
        if len(self.pids) < self.p:
            raise UserError(f"a P x K batch needs {self.p} identities but the training set has {len(self.pids)}: "
                            "lower SOLVER.IMS_PER_BATCH or raise DATALOADER.NUM_INSTANCE")
        chunks = sum(max(len(ix), self.k) // self.k for ix in self.index_of)
        self.num_batches = max(chunks // self.p, 1)

    def _chunks(self, j, g):
        ix = self.index_of[j]
        if len(ix) < self.k:
            ix = ix[torch.randint(len(ix), (self.k,), generator=g)]
        else:
            ix = ix[torch.randperm(len(ix), generator=g)]
        return list(ix[: len(ix) // self.k * self.k].view(-1, self.k))

    def global_batches(self, g):
        """The epoch's batches as lists of P chunks of K indices (the same on every rank)."""
        remaining = {j: self._chunks(j, g) for j in range(len(self.pids))}
        for _ in range(self.num_batches):
            available = [j for j, c in remaining.items() if c]
            if len(available) < self.p:
                for j in range(len(self.pids)):
                    if not remaining[j]:
                        remaining[j] = self._chunks(j, g)
                available = list(remaining)
            picked = torch.randperm(len(available), generator=g)[: self.p].tolist()
            yield [remaining[available[i]].pop() for i in picked]

    def __iter__(self):
        share = self.p // self.world_size
        for batch in self.global_batches(self._next_generator()):
            for chunk in batch[self.rank * share:(self.rank + 1) * share]:
                yield from chunk.tolist()

    def __len__(self):
        return self.num_batches * self.p // self.world_size * self.k


class ShardedRandomSampler(EpochSeeded):
    """A shuffle of the whole dataset, each rank taking every world_size-th index (equal shares)."""

    def __init__(self, num_samples, rank=0, world_size=1, seed=0):
        super().__init__(seed)
        self.n, self.rank, self.world_size = num_samples, rank, world_size

    def __iter__(self):
        order = torch.randperm(self.n, generator=self._next_generator())
        return iter(order[self.rank: len(self) * self.world_size: self.world_size].tolist())

    def __len__(self):
        return self.n // self.world_size


class ShardedSequentialSampler(Sampler):
    """Rank r takes indices r, r + W, ...; shares are padded to equal length by repeating the last index
    so that gathered features line up (the evaluator drops the repeats by index)."""

    def __init__(self, num_samples, rank=0, world_size=1):
        self.n, self.rank, self.world_size = num_samples, rank, world_size

    def __iter__(self):
        own = list(range(self.rank, self.n, self.world_size))
        return iter(own + [self.n - 1] * (len(self) - len(own)))

    def __len__(self):
        return -(-self.n // self.world_size)

