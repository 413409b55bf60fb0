"""The Recorder under torch.distributed, for real: two processes on the CPU gloo backend, DDP
training with a DistributedSampler whose last batch is ragged and whose padding repeats an
example; the records equal a single process's given the same batches in the same order."""

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DistributedSampler, TensorDataset

from agreement_core.recorder import Recorder
from agreement_core.records import RecordStore

N, C, WORLD, BATCH, EPOCHS = 37, 3, 2, 4, 2     # 37 = 2 x 18 + 1: padding and a ragged batch


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 5, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.7).long()
    ids = torch.arange(500, 500 + N)
    return TensorDataset(x, y, ids)


def _recorder(path, data, **kwargs):
    return Recorder(path, splits={"train": (data.tensors[2].numpy(), data.tensors[1].numpy())},
                    num_networks=1, num_epochs=EPOCHS, num_classes=C, keep="scores",
                    with_true_prob=True, **kwargs)


def _batches(data, rank, epoch):
    sampler = DistributedSampler(data, num_replicas=WORLD, rank=rank, shuffle=True, seed=3)
    sampler.set_epoch(epoch)
    return list(torch.utils.data.DataLoader(data, batch_size=BATCH, sampler=sampler))


def _model():
    torch.manual_seed(0)
    return nn.Linear(5, C)


def _worker(rank, path, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        data = _data()
        model = nn.parallel.DistributedDataParallel(_model())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
        recorder = _recorder(path, data)
        for epoch in recorder.epochs_to_run(0):
            for x, y, ids in _batches(data, rank, epoch):
                logits = model(x)
                recorder.update(0, "train", epoch, ids, logits=logits, targets=y)
                loss = nn.functional.cross_entropy(logits, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            recorder.finish_epoch(0, "train", epoch, model=model)
        # Every rank raises the same error when an example is missing (rank 1 skips one).
        ids = data.tensors[2]
        mine = ids[rank::WORLD] if rank == 0 else ids[rank:-2:WORLD]
        recorder2 = _recorder(f"{path}-missing", data)
        recorder2.update(0, "train", 1, mine, logits=torch.zeros(len(mine), C))
        try:
            recorder2.finish_epoch(0, "train", 1)
        except ValueError as error:
            assert "1 examples were never recorded" in str(error), error
        else:
            raise AssertionError("no error on a missing example")
    finally:
        dist.destroy_process_group()


def _single_process(path):
    """One process, each step's rank batches in rank order, the gradient DDP averages."""
    data = _data()
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    recorder = _recorder(path, data)
    for epoch in range(1, EPOCHS + 1):
        per_rank = [_batches(data, r, epoch) for r in range(WORLD)]
        for step in zip(*per_rank, strict=True):
            losses = []
            for x, y, ids in step:
                logits = model(x)
                recorder.update(0, "train", epoch, ids, logits=logits, targets=y)
                losses.append(nn.functional.cross_entropy(logits, y))
            optimizer.zero_grad()
            (sum(losses) / WORLD).backward()
            optimizer.step()
        recorder.finish_epoch(0, "train", epoch)
    return recorder.store


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_two_gloo_processes_record_what_one_process_records(tmp_path):
    data = _data()
    sizes = [[len(b[0]) for b in _batches(data, r, 1)] for r in range(WORLD)]
    assert sizes == [[4, 4, 4, 4, 3]] * 2                         # ragged last batch
    seen = np.concatenate([torch.cat([b[2] for b in _batches(data, r, 1)]).numpy()
                           for r in range(WORLD)])
    assert len(seen) == N + 1 and len(np.unique(seen)) == N       # one padded duplicate

    mp.spawn(_worker, args=(str(tmp_path / "ddp"), _free_port()), nprocs=WORLD, join=True)
    ddp = RecordStore.open(tmp_path / "ddp")
    single = _single_process(tmp_path / "single")
    assert ddp.completed_epochs(0) == EPOCHS
    for t in range(1, EPOCHS + 1):
        np.testing.assert_array_equal(ddp.read_predictions(0, "train", t),
                                      single.read_predictions(0, "train", t))
        for read in ("read_margin", "read_el2n", "read_true_prob"):
            np.testing.assert_allclose(getattr(ddp, read)(0, "train", t),
                                       getattr(single, read)(0, "train", t), atol=1e-5)
    # Rank 0 alone wrote: no files of the other rank's open epochs are left behind.
    assert not list((tmp_path / "ddp" / ".open").glob("*"))
    assert (tmp_path / "ddp" / "net000" / "fingerprints.json").is_file()
