"""No silent wrong records: a resumed run from a fresh model, epochs finished out of order,
NaN logits; string ids; probability vectors written per batch; scores on the logits'
device."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from agreement_core.recorder import Recorder, model_fingerprint
from agreement_core.records import RecordStore, read_example_names, true_class_margin

N, C = 24, 3


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y, np.arange(100, 100 + N)


def _epoch(recorder, model, optimizer, k, epoch, x, y, ids, *, fingerprint=True):
    for rows in torch.arange(N).split(10):
        logits = model(x[rows])
        recorder.update(k, "train", epoch, ids[rows.numpy()], logits=logits, targets=y[rows])
        loss = nn.functional.cross_entropy(logits, y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    recorder.finish_epoch(k, "train", epoch, model=model if fingerprint else None)


def _make(path, ids, y, epochs=4):
    return Recorder(path, splits={"train": (ids, y.numpy())}, num_networks=1,
                    num_epochs=epochs, num_classes=C, keep="margin")


def test_a_resumed_run_never_records_a_fresh_model(tmp_path):
    x, y, ids = _data()
    torch.manual_seed(0)
    model = nn.Linear(4, C)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    recorder = _make(tmp_path / "s", ids, y)
    for epoch in (1, 2):
        _epoch(recorder, model, optimizer, 0, epoch, x, y, ids)
    checkpoint = {"model": {k: v.clone() for k, v in model.state_dict().items()}}

    # "The next day": a new process, the documented loop, but the state is not loaded.
    resumed = _make(tmp_path / "s", ids, y)
    assert list(resumed.epochs_to_run(0)) == [3, 4]
    fresh = nn.Linear(4, C)
    with pytest.raises(RuntimeError, match=r"epoch 2 was recorded by an earlier run.*"
                                           r"recorder.restored\(0, model\)"):
        resumed.update(0, "train", 3, ids[:5], logits=fresh(x[:5]))
    with pytest.raises(ValueError, match="not those recorded at the end of epoch 2"):
        resumed.restored(0, fresh)
    with pytest.raises(ValueError, match="pass the restored model"):
        resumed.restored(0)
    fresh.load_state_dict(checkpoint["model"])
    resumed.restored(0, fresh)
    _epoch(resumed, fresh, torch.optim.SGD(fresh.parameters(), lr=0.5), 0, 3, x, y, ids)
    assert RecordStore.open(tmp_path / "s").completed_epochs(0) == 3

    # The same process carries on without a call: it holds the state it finished.
    _epoch(resumed, fresh, torch.optim.SGD(fresh.parameters(), lr=0.5), 0, 4, x, y, ids)


def test_without_a_recorded_fingerprint_restored_is_the_users_word(tmp_path):
    x, y, ids = _data()
    model = nn.Linear(4, C)
    recorder = _make(tmp_path / "s", ids, y)
    _epoch(recorder, model, torch.optim.SGD(model.parameters(), lr=0.1), 0, 1, x, y, ids,
           fingerprint=False)
    resumed = _make(tmp_path / "s", ids, y)
    with pytest.raises(RuntimeError, match="has not restored"):
        resumed.update(0, "train", 2, ids, logits=model(x))
    resumed.restored(0)
    resumed.update(0, "train", 2, ids, logits=model(x))
    resumed.finish_epoch(0, "train", 2)
    # Re-recording from epoch 1 (training again from scratch) needs no call.
    again = _make(tmp_path / "s", ids, y)
    again.update(0, "train", 1, ids, logits=model(x))


def test_the_fingerprint_ignores_ddp_and_compile_prefixes_and_sees_one_bit():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    wrapped = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    assert model_fingerprint(model) == model_fingerprint(wrapped)
    with torch.no_grad():
        model[0].weight[0, 0] = torch.nextafter(model[0].weight[0, 0], torch.tensor(9.0))
    assert model_fingerprint(model) != model_fingerprint(wrapped)


def test_epochs_are_finished_in_order_and_nan_logits_name_their_ids(tmp_path):
    x, y, ids = _data()
    recorder = _make(tmp_path / "s", ids, y)
    logits = torch.randn(N, C)
    recorder.update(0, "train", 1, ids, logits=logits)
    recorder.update(0, "train", 3, ids, logits=logits)
    with pytest.raises(ValueError, match="epoch 3 finished before epoch 2"):
        recorder.finish_epoch(0, "train", 3)
    recorder.finish_epoch(0, "train", 1)
    bad = logits.clone()
    bad[[2, 7], 1] = float("nan")
    bad[9, 0] = float("inf")
    with pytest.raises(ValueError, match=r"NaN or infinite logits for example ids "
                                         r"\[102, 107, 109\] \(3 in this batch\)"):
        recorder.update(0, "train", 2, ids, logits=bad)
    # The epoch is still usable after the error: nothing of the bad batch was kept.
    recorder.update(0, "train", 2, ids, logits=logits)
    recorder.finish_epoch(0, "train", 2)
    assert RecordStore.open(tmp_path / "s").completed_epochs(0) == 2


def test_string_ids_get_a_stable_index_kept_with_the_store(tmp_path):
    names = np.array([f"img_{i:03d}.jpg" for i in (5, 1, 9, 3, 7, 0)])
    targets = np.array([0, 1, 2, 0, 1, 2])
    logits = torch.eye(3)[targets] * 2.0
    recorder = Recorder(tmp_path / "s", splits={"train": (names, targets)}, num_networks=1,
                        num_epochs=1, num_classes=3, keep="margin")
    recorder.update(0, "train", 1, list(names[:3]), logits=logits[:3])
    with pytest.raises(KeyError, match="img_404.jpg"):
        recorder.update(0, "train", 1, ["img_404.jpg"], logits=logits[:1])
    recorder.update(0, "train", 1, list(names[3:]), logits=logits[3:])
    recorder.finish_epoch(0, "train", 1)
    store = RecordStore.open(tmp_path / "s")
    stored = read_example_names(store, "train")
    assert sorted(stored.tolist()) == sorted(names.tolist())
    by_name = dict(zip(stored.tolist(), store.targets("train").tolist(), strict=True))
    assert by_name == dict(zip(names.tolist(), targets.tolist(), strict=True))
    assert json.loads((tmp_path / "s" / "example_names" / "train.json").read_text()) \
        == sorted(names.tolist())
    # The same names in another order resume the same store; other names are refused.
    Recorder(tmp_path / "s", splits={"train": (names[::-1], targets[::-1])}, num_networks=1,
             num_epochs=1, num_classes=3, keep="margin")
    renamed = names.copy()
    renamed[0] = "img_999.jpg"
    with pytest.raises(Exception, match="differ|different configuration"):
        Recorder(tmp_path / "s", splits={"train": (renamed, targets)}, num_networks=1,
                 num_epochs=1, num_classes=3, keep="margin")


def test_probability_vectors_go_to_disk_batch_by_batch(tmp_path):
    rng = np.random.default_rng(0)
    ids, targets = np.arange(50), rng.integers(0, 4, 50)
    logits = rng.normal(size=(50, 4)).astype(np.float32)
    recorder = Recorder(tmp_path / "s", splits={"train": (ids, targets)}, num_networks=1,
                        num_epochs=1, num_classes=4, keep="probs")
    recorder.update(0, "train", 1, ids[:20], logits=logits[:20])
    buffer = next(iter(recorder._open.values()))
    assert isinstance(buffer.probs, np.memmap)                # not an in-memory array
    assert buffer.probs_file.is_file()
    recorder.update(0, "train", 1, ids[20:], logits=logits[20:])
    recorder.finish_epoch(0, "train", 1)
    assert not buffer.probs_file.exists()
    probs = RecordStore.open(tmp_path / "s").read_probs(0, "train", 1)
    expected = torch.softmax(torch.from_numpy(logits), 1).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-6)


def test_scores_from_float64_half_and_numpy_logits_agree(tmp_path):
    rng = np.random.default_rng(3)
    ids, targets = np.arange(30), rng.integers(0, 5, 30)
    logits = rng.normal(size=(30, 5)) * 3
    margins = []
    for i, given in enumerate((logits, torch.from_numpy(logits),
                               torch.from_numpy(logits).to(torch.bfloat16))):
        recorder = Recorder(tmp_path / str(i), splits={"train": (ids, targets)},
                            num_networks=1, num_epochs=1, num_classes=5, keep="scores")
        recorder.update(0, "train", 1, ids, logits=given)
        recorder.finish_epoch(0, "train", 1)
        margins.append(recorder.store.read_margin(0, "train", 1))
    np.testing.assert_allclose(margins[0], true_class_margin(logits, targets), atol=1e-5)
    np.testing.assert_array_equal(margins[0], margins[1])
    np.testing.assert_allclose(margins[2], margins[0], atol=0.1)    # bfloat16's precision
