"""Recording from your own loop: per-batch updates, resuming, stable ids; AUM, EL2N and the
data map from the store, checked against direct implementations; any dataset with ids."""

import numpy as np
import pandas as pd
import pytest
import torch

from agreement_core.data import CIFAR10, wrap_dataset
from agreement_core.errors import ConfigError, RecordStoreError
from agreement_core.recorder import Recorder
from agreement_core.records import RecordStore, true_class_margin
from agreement_core.scores import area_under_margin, data_map, el2n, example_scores, export_scores
from agreement_core.study.own_loop import train_with_recorder


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _direct_aum(logits, targets):
    """Pleiss et al.'s margin, averaged over epochs and networks: logits (E, K, N, C)."""
    e, k, n, _ = logits.shape
    margins = [[true_class_margin(logits[t, j], targets) for j in range(k)] for t in range(e)]
    return np.mean(margins, axis=(0, 1))


def _direct_el2n(logits, targets, epoch):
    onehot = np.eye(logits.shape[-1])[targets]
    return np.mean([np.linalg.norm(_softmax(z) - onehot, axis=1)
                    for z in logits[epoch - 1]], axis=0)


def test_per_batch_recording_resumes_and_counts_a_repeated_batch_once(tmp_path):
    rng = np.random.default_rng(0)
    n, c, k, e = 40, 4, 2, 3
    ids = rng.permutation(1000)[:n]                  # arbitrary, unsorted ids
    targets = rng.integers(0, c, n)
    logits = rng.normal(size=(e, k, n, c)).astype(np.float32)
    logits[..., 0] += 0.5
    recorder = Recorder(tmp_path / "s", splits={"train": (ids, targets)}, num_networks=k,
                        num_epochs=e, num_classes=c, keep="probs", with_true_prob=True)
    for net in range(k):
        assert list(recorder.epochs_to_run(net)) == [1, 2, 3]
    for t in (1, 2):                                 # then "interrupted"
        for net in range(k):
            order = rng.permutation(n)
            for rows in np.array_split(order, 3):
                recorder.update(net, "train", t, torch.from_numpy(ids[rows]),
                                logits=torch.from_numpy(logits[t - 1, net, rows]),
                                targets=targets[rows])
            # A retried batch with stale logits, then the real one: the last update wins.
            recorder.update(net, "train", t, ids[:5], logits=np.zeros((5, c), np.float32))
            recorder.update(net, "train", t, ids[:5], logits=logits[t - 1, net, :5])
            recorder.finish_epoch(net, "train", t)
    resumed = Recorder(tmp_path / "s", splits={"train": (ids, targets)}, num_networks=k,
                       num_epochs=e, num_classes=c, keep="probs", with_true_prob=True)
    assert list(resumed.epochs_to_run(0)) == [3]
    for net in range(k):
        resumed.restored(net)                        # no fingerprint recorded: our word
        resumed.update(net, "train", 3, ids, logits=logits[2, net])
        resumed.finish_epoch(net, "train", 3)
    store = RecordStore.open(tmp_path / "s")
    for t in range(1, e + 1):
        for net in range(k):
            np.testing.assert_array_equal(store.read_predictions(net, "train", t),
                                          logits[t - 1, net].argmax(axis=1))
            np.testing.assert_allclose(store.read_margin(net, "train", t),
                                       true_class_margin(logits[t - 1, net], targets),
                                       atol=2e-5)
    np.testing.assert_allclose(area_under_margin(store), _direct_aum(logits, targets),
                               atol=2e-5)
    np.testing.assert_allclose(el2n(store, epoch=2), _direct_el2n(logits, targets, 2),
                               rtol=1e-6, atol=1e-6)
    probs = np.stack([[_softmax(z)[np.arange(n), targets] for z in per_net]
                      for per_net in logits])      # (E, K, N)
    mapped = data_map(store).set_index("example_id").loc[ids]
    np.testing.assert_allclose(mapped["confidence"], probs.mean(axis=(0, 1)), atol=1e-3)
    np.testing.assert_allclose(mapped["variability"], probs.std(axis=(0, 1)), atol=2e-3)
    right = (logits.argmax(axis=-1) == targets).mean(axis=(0, 1))
    np.testing.assert_allclose(mapped["correctness"], right)


def test_recorder_names_unknown_ids_unstable_targets_and_missing_examples(tmp_path):
    ids, targets = np.arange(10, 20), np.arange(10) % 3
    recorder = Recorder(tmp_path / "s", splits={"train": (ids, targets)}, num_networks=1,
                        num_epochs=2, num_classes=3)
    with pytest.raises(KeyError, match=r"not in the train split.*\[99\]"):
        recorder.update(0, "train", 1, [10, 99], predictions=[0, 1])
    with pytest.raises(ValueError, match="not stable"):
        recorder.update(0, "train", 1, [10, 11], predictions=[0, 1], targets=[2, 2])
    with pytest.raises(ValueError, match="exactly one of"):
        recorder.update(0, "train", 1, [10], predictions=[0], logits=[[0.0, 1.0, 2.0]])
    recorder.update(0, "train", 1, ids[:8], predictions=targets[:8])
    with pytest.raises(ValueError, match=r"2 examples were never recorded, e.g. ids \[18, 19\]"):
        recorder.finish_epoch(0, "train", 1)
    margins = Recorder(tmp_path / "m", splits={"train": (ids, targets)}, num_networks=1,
                       num_epochs=2, num_classes=3, keep="margin")
    with pytest.raises(ValueError, match="pass logits="):
        margins.update(0, "train", 1, ids, predictions=targets)
    with pytest.raises(RecordStoreError, match="EL2N needs keep=.scores. or keep=.probs."):
        el2n(margins.store)
    with pytest.raises(RecordStoreError, match="keeps no margins"):
        area_under_margin(recorder.store)
    with pytest.raises(ValueError, match="needs single-label"):
        RecordStore.create(tmp_path / "ml", num_networks=1, num_epochs=1, num_classes=3,
                           splits={"train": (ids, np.eye(3, dtype=bool)[targets])},
                           multilabel=True, keep="margin")


def test_a_plain_loop_on_real_images_matches_a_direct_computation(tmp_path, data_root, mirror):
    """The recorder on a real run: AUM, EL2N and predictions from the store equal those
    computed directly from the logits the loop produced."""
    train = CIFAR10("train", root=data_root, mirror=mirror, subset=20)     # 200 images
    test = CIFAR10("test", root=data_root, mirror=mirror, subset=10)
    seen: dict = {}

    def keep_logits(k, split, epoch, ids, logits):
        for i, z in zip(ids.tolist(), logits.numpy(), strict=True):
            seen[(k, split, epoch, i)] = z

    store = train_with_recorder(tmp_path / "own", train, test, num_networks=2, epochs=3,
                                batch_size=64, on_batch=keep_logits)
    ids, targets = store.example_ids("train"), store.targets("train")
    logits = np.array([[[seen[(k, "train", t, i)] for i in ids] for k in range(2)]
                       for t in range(1, 4)])                               # (E, K, N, C)
    np.testing.assert_allclose(area_under_margin(store), _direct_aum(logits, targets),
                               atol=1e-4)
    np.testing.assert_allclose(el2n(store, epoch=1), _direct_el2n(logits, targets, 1),
                               atol=1e-5)
    np.testing.assert_array_equal(store.read_predictions(1, "train", 3),
                                  logits[2, 1].argmax(axis=1))
    table = example_scores(store)
    assert {"aum", "el2n", "confidence", "variability", "correctness", "forgetting_events",
            "agreed_from_epoch"} <= set(table.columns)
    out = export_scores(table, tmp_path / "scores.parquet")
    assert pd.read_parquet(out)["example_id"].tolist() == ids.tolist()
    # Resuming a finished run trains nothing and changes nothing.
    before = store.read_predictions(0, "test", 3).copy()
    train_with_recorder(tmp_path / "own", train, test, num_networks=2, epochs=3,
                        batch_size=64, on_batch=lambda *a: pytest.fail("retrained"))
    np.testing.assert_array_equal(store.read_predictions(0, "test", 3), before)


class _Table:
    """A Hugging Face datasets-like table: rows as dicts, columns by name."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            return [row[key] for row in self.rows]
        return self.rows[key]


def test_any_dataset_gets_stable_ids_or_a_clear_error():
    images = [np.full((8, 8, 3), i, np.uint8) for i in range(6)]
    tuples = [(img, i % 2) for i, img in enumerate(images)]
    wrapped = wrap_dataset(tuples, classes=["a", "b"])
    image, target, example_id = wrapped[3]
    assert (target, example_id) == (1, 3) and np.asarray(image)[0, 0, 0] == 3
    assert wrapped.load_array().shape == (6, 8, 8, 3)
    table = _Table([{"img": img, "label": i % 2, "uid": 100 + 7 * i}
                    for i, img in enumerate(images)])
    by_id = wrap_dataset(table, id_key="uid")
    assert by_id.example_ids.tolist() == [100, 107, 114, 121, 128, 135]
    assert by_id.classes == ["0", "1"]
    with pytest.raises(ConfigError, match=r"not unique \(e.g. \[5\]"):
        wrap_dataset(tuples, ids=[0, 1, 2, 3, 5, 5])
    table.rows.reverse()                              # the table was reordered after wrapping
    with pytest.raises(ConfigError, match="not stable"):
        by_id.load_image(0)
    with pytest.raises(ConfigError, match="name the input and label"):
        wrap_dataset(_Table([{"picture": images[0], "y": 0}]))


def test_kept_scores_equal_those_from_the_probability_vectors(tmp_path):
    """keep='scores' (8 bytes an example) gives the AUM and EL2N that keep='probs' gives."""
    rng = np.random.default_rng(1)
    ids, targets = np.arange(30), rng.integers(0, 5, 30)
    logits = rng.normal(size=(2, 2, 30, 5)).astype(np.float32) * 3
    stores = {}
    for keep in ("scores", "probs"):
        recorder = Recorder(tmp_path / keep, splits={"train": (ids, targets)}, num_networks=2,
                            num_epochs=2, num_classes=5, keep=keep)
        for t in (1, 2):
            for k in (0, 1):
                recorder.update(k, "train", t, ids, logits=logits[t - 1, k])
                recorder.finish_epoch(k, "train", t)
        stores[keep] = recorder.store
    np.testing.assert_allclose(area_under_margin(stores["scores"]),
                               area_under_margin(stores["probs"]), atol=1e-4)
    np.testing.assert_allclose(el2n(stores["scores"], epoch=2), el2n(stores["probs"], epoch=2),
                               atol=1e-6)
    np.testing.assert_allclose(el2n(stores["scores"], epoch=1),
                               _direct_el2n(logits, targets, 1), atol=1e-6)
