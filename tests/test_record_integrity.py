"""Record files carry their identity and checksums: damaged or misplaced files are refused.

Every broken-file case must raise exactly :class:`RecordStoreError`, name the file, and say
what to do; schema-1 stores are refused with the upgrade hint and upgrade bit for bit.
"""

from __future__ import annotations

import json
import shutil
import zipfile
import zlib

import numpy as np
import pytest

from agreement_core.agreement import agreement_table
from agreement_core.errors import RecordStoreError
from agreement_core.records import SCHEMA_VERSION, RecordStore, upgrade_store

K, E, C = 2, 4, 7
N_TRAIN, N_TEST = 300, 120
RNG = np.random.default_rng(7)
TRAIN = (np.arange(N_TRAIN) + 1000, RNG.integers(0, C, N_TRAIN))
TEST = (np.arange(N_TEST), RNG.integers(0, C, N_TEST))
CONFIG = {"arch": "lenet5", "epochs": E, "lr": 0.1, "optim": {"name": "sgd", "momentum": 0.9}}


def make_store(path, **kw):
    args = dict(num_networks=K, num_epochs=E, num_classes=C, with_true_prob=True,
                splits={"train": TRAIN, "test": TEST}, config=CONFIG, seeds=[0, 1])
    args.update(kw)
    return RecordStore.create(path, **args)


def predictions(k, split, t):
    """Distinct, deterministic predictions and true-class probabilities per file."""
    n = N_TRAIN if split == "train" else N_TEST
    rng = np.random.default_rng([k, t, n])
    return rng.integers(0, C, n), rng.random(n).astype(np.float32)


def full_store(path, epochs=E):
    store = make_store(path)
    for k in range(K):
        for split in ("train", "test"):
            for t in range(1, epochs + 1):
                pred, prob = predictions(k, split, t)
                store.write_epoch(k, split, t, pred, true_prob=prob)
    return RecordStore.open(path)


def epoch_file(store, k, split, t):
    return store.path / f"net{k:03d}" / split / f"epoch{t:04d}.npz"


def assert_refused(call, path, *phrases):
    """``call()`` raises exactly RecordStoreError naming ``path``, the phrases and a remedy."""
    with pytest.raises(RecordStoreError) as info:
        call()
    assert type(info.value) is RecordStoreError
    message = str(info.value)
    assert str(path) in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


# ---------------------------------------------------------------------- damaged files
def flip_40_bytes(path, where):
    """Garble 40 bytes at fraction ``where`` of the file, keeping its length."""
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at:at + 40] = bytes(b ^ 0xFF for b in data[at:at + 40])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_flipped_bytes_in_epoch_file(tmp_path, where):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 1, "train", 2)
    flip_40_bytes(path, where)
    # The same error, not a zlib.error, through the epoch-wise readers and the tables (which
    # read both arrays of the file: pred and true_prob).
    assert_refused(lambda: store.correct("train", 2), path,
                   "delete it and rerun the training command to recompute it")
    assert_refused(lambda: agreement_table(RecordStore.open(store.path), "train"), path)
    # The other files are unaffected.
    np.testing.assert_array_equal(store.read_predictions(0, "train", 2),
                                  predictions(0, "train", 2)[0])


@pytest.mark.parametrize("where", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_flipped_bytes_in_single_array_file(tmp_path, where):
    # Without true_prob the file holds pred alone (and its header): any read of it fails.
    store = make_store(tmp_path / "p", with_true_prob=False)
    store.write_epoch(0, "train", 1, predictions(0, "train", 1)[0])
    path = epoch_file(store, 0, "train", 1)
    flip_40_bytes(path, where)
    assert_refused(lambda: store.read_predictions(0, "train", 1), path,
                   "delete it and rerun the training command to recompute it")


def test_flipped_bytes_in_targets_file(tmp_path):
    store = full_store(tmp_path / "s")
    path = store.path / "targets" / "test.npz"
    flip_40_bytes(path, 0.5)
    assert_refused(lambda: RecordStore.open(store.path).targets("test"), path,
                   "is corrupt or truncated", "delete it and rerun the training command")


def test_truncated_file(tmp_path):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 0, "test", 3)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert_refused(lambda: store.read_true_prob(0, "test", 3), path,
                   "is corrupt or truncated", "delete it and rerun the training command")


def test_array_with_a_wrong_checksum(tmp_path):
    # A well-formed file whose array no longer matches its header (rewritten by hand).
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 0, "train", 1)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
        header = data.zip.comment
    arrays["pred"] = (arrays["pred"] + 1) % C
    np.savez_compressed(path, **arrays)
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = header  # the original header, now wrong for pred
    assert_refused(lambda: store.read_predictions(0, "train", 1), path,
                   "pred fails its checksum")
    # true_prob is still intact and still readable.
    assert store.read_true_prob(0, "train", 1).shape == (N_TRAIN,)


def test_missing_array(tmp_path):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 1, "test", 4)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files if name != "true_prob"}
    np.savez_compressed(path, **arrays)
    assert_refused(lambda: store.read_true_prob(1, "test", 4), path, "lacks array 'true_prob'")


def test_wrong_shape(tmp_path):
    # A file written for a store of another size: its header is intact but the shape is not
    # the one meta.json says.
    store = full_store(tmp_path / "s")
    other = make_store(tmp_path / "other", splits={"train": (np.arange(5), np.zeros(5, int)),
                                                   "test": TEST})
    other.write_epoch(0, "train", 1, np.zeros(5, int), true_prob=np.zeros(5))
    path = epoch_file(store, 0, "train", 1)
    shutil.copyfile(epoch_file(other, 0, "train", 1), path)
    assert_refused(lambda: store.read_predictions(0, "train", 1), path,
                   "pred is int16 (5,), expected int16 (300,)")


# ---------------------------------------------------------------------- misplaced files
def test_epoch_copied_over_another_epoch(tmp_path):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 1, "train", 2)
    shutil.copyfile(epoch_file(store, 1, "train", 1), path)
    message = assert_refused(lambda: store.read_predictions(1, "train", 2), path,
                             "holds network 1, split 'train', epoch 1, "
                             "not network 1, split 'train', epoch 2")
    assert "delete it and rerun the training command to recompute it" in message
    # The bug report's case: agree must fail instead of reporting a wrong TPa.
    assert_refused(lambda: agreement_table(RecordStore.open(store.path), "train"), path)


def test_network_copied_over_another_network(tmp_path):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 0, "test", 3)
    shutil.copyfile(epoch_file(store, 1, "test", 3), path)
    assert_refused(lambda: store.read_predictions(0, "test", 3), path,
                   "holds network 1, split 'test', epoch 3, not network 0, split 'test', epoch 3")


def test_targets_swapped_between_splits(tmp_path):
    store = full_store(tmp_path / "s")
    train, test = store.path / "targets" / "train.npz", store.path / "targets" / "test.npz"
    swap = tmp_path / "swap.npz"
    shutil.move(train, swap)
    shutil.move(test, train)
    shutil.move(swap, test)
    assert_refused(lambda: RecordStore.open(store.path).targets("train"), train,
                   "holds targets of split 'test', not targets of split 'train'",
                   "delete it and rerun the training command to rewrite it")
    assert_refused(lambda: RecordStore.open(store.path).example_ids("test"), test,
                   "holds targets of split 'train', not targets of split 'test'")


def test_deleted_targets_file_is_rewritten_on_resume(tmp_path):
    # The remedy the messages give for a targets file: delete it, rerun (create exist_ok).
    store = full_store(tmp_path / "s")
    path = store.path / "targets" / "train.npz"
    path.unlink()
    assert_refused(lambda: RecordStore.open(store.path).targets("train"), path,
                   "record file missing", "rerun the training command to rewrite it")
    resumed = make_store(store.path, exist_ok=True)
    np.testing.assert_array_equal(resumed.example_ids("train"), TRAIN[0])
    np.testing.assert_array_equal(RecordStore.open(store.path).targets("train"), TRAIN[1])


def test_headerless_file_in_a_schema_2_store(tmp_path):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 0, "train", 1)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez_compressed(path, **arrays)  # the same arrays, no header
    assert_refused(lambda: store.read_predictions(0, "train", 1), path, "has no header")


def test_damaged_header(tmp_path):
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 1, "train", 1)
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = archive.comment.replace(b'"epoch":1', b'"epoch":3')
    assert_refused(lambda: store.read_predictions(1, "train", 1), path,
                   "damaged header (checksum mismatch)")


def test_header_is_documented_json(tmp_path):
    # docs/records.md describes the header; a reader without this package can check it.
    store = full_store(tmp_path / "s")
    path = epoch_file(store, 1, "test", 2)
    with np.load(path) as data:
        pred = data["pred"]
        assert sorted(data.files) == ["pred", "true_prob"]
    header = json.loads(zipfile.ZipFile(path).comment)
    assert {k: header[k] for k in ("kind", "network", "split", "epoch")} == {
        "kind": "epoch", "network": 1, "split": "test", "epoch": 2}
    assert header["arrays"]["pred"] == {"dtype": "<i2", "shape": [N_TEST],
                                        "crc32": zlib.crc32(pred)}
    crc = header.pop("crc32")
    assert crc == zlib.crc32(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    targets = json.loads(zipfile.ZipFile(store.path / "targets" / "train.npz").comment)
    assert (targets["kind"], targets["split"]) == ("targets", "train")
    assert sorted(targets["arrays"]) == ["example_ids", "targets"]


# ---------------------------------------------------------------------- schema 1
def write_schema1_store(path):
    """A store exactly as schema 1 wrote it: bare arrays, schema_version 1."""
    store = full_store(path)
    for file in path.rglob("*.npz"):
        with np.load(file) as data:
            arrays = {name: data[name] for name in data.files}
        np.savez_compressed(file, **arrays)  # as schema 1 wrote them: no header
    meta = json.loads((path / "meta.json").read_text())
    meta["schema_version"] = 1
    (path / "meta.json").write_text(json.dumps(meta, indent=2))
    return store


def test_schema1_refused_then_upgraded_bit_for_bit(tmp_path):
    path = tmp_path / "old"
    write_schema1_store(path)
    old = {}
    for file in sorted(path.rglob("*.npz")):
        with np.load(file) as data:
            old[file] = {name: data[name] for name in data.files}
    assert_refused(lambda: RecordStore.open(path), path / "meta.json", "schema_version 1",
                   f"python -m agreement_core upgrade '{path}'")

    assert RecordStore.upgrade(path) == len(old)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == 2
    assert meta["upgraded"]["from_schema_version"] == 1
    store = RecordStore.open(path)
    for k in range(K):
        for split in ("train", "test"):
            for t in range(1, E + 1):
                arrays = old[epoch_file(store, k, split, t)]
                got_pred = store.read_predictions(k, split, t)
                got_prob = store.read_true_prob(k, split, t)
                assert got_pred.dtype == arrays["pred"].dtype
                assert got_pred.tobytes() == arrays["pred"].tobytes()
                assert got_prob.tobytes() == arrays["true_prob"].tobytes()
                np.testing.assert_array_equal(got_pred, predictions(k, split, t)[0])
    for split, (ids, targets) in (("train", TRAIN), ("test", TEST)):
        np.testing.assert_array_equal(store.example_ids(split), ids)
        np.testing.assert_array_equal(store.targets(split), targets)
    # Idempotent: a second upgrade does nothing.
    assert upgrade_store(path) == 0


def test_upgrade_command(tmp_path, capsys):
    from agreement_core.cli import main

    path = tmp_path / "old"
    write_schema1_store(path)
    assert main(["agree", str(path)]) == 2
    assert "python -m agreement_core upgrade" in capsys.readouterr().err
    assert main(["upgrade", str(path)]) == 0
    assert "files rewritten" in capsys.readouterr().out
    assert main(["agree", str(path)]) == 0


def test_interrupted_upgrade_is_resumed(tmp_path, monkeypatch):
    path = tmp_path / "old"
    write_schema1_store(path)
    import agreement_core.records as records

    real = records._write_record
    calls = []

    def dying(*args):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(args)
        real(*args)

    monkeypatch.setattr(records, "_write_record", dying)
    with pytest.raises(KeyboardInterrupt):
        upgrade_store(path)
    monkeypatch.undo()
    # Half done: still schema 1, still refused, no temporaries left behind.
    assert json.loads((path / "meta.json").read_text())["schema_version"] == 1
    with pytest.raises(RecordStoreError, match="agreement_core upgrade"):
        RecordStore.open(path)
    assert not [p for p in path.rglob("*") if p.name.endswith(".tmp")]
    total = len(list(path.rglob("*.npz")))
    assert upgrade_store(path) == total - 5
    store = RecordStore.open(path)
    np.testing.assert_array_equal(store.read_predictions(1, "test", 4),
                                  predictions(1, "test", 4)[0])


def test_upgrade_names_a_corrupt_file(tmp_path):
    path = tmp_path / "old"
    store = write_schema1_store(path)
    bad = epoch_file(store, 1, "train", 3)
    bad.write_bytes(bad.read_bytes()[:100])
    assert_refused(lambda: upgrade_store(path), bad, "rerun the upgrade")
    assert json.loads((path / "meta.json").read_text())["schema_version"] == 1
    assert zipfile.is_zipfile(epoch_file(store, 0, "train", 1))


# ---------------------------------------------------------------------- resume, gaps
def test_resume_with_another_config_names_the_fields(tmp_path):
    make_store(tmp_path / "r")
    message = assert_refused(
        lambda: make_store(tmp_path / "r", exist_ok=True,
                           config={**CONFIG, "epochs": E + 2,
                                   "optim": {"name": "adam", "momentum": 0.9}}),
        tmp_path / "r", f"config.epochs: {E} -> {E + 2}",
        'config.optim.name: "sgd" -> "adam"', "refusing to resume")
    assert "momentum" not in message and "config.lr" not in message
    message = assert_refused(lambda: make_store(tmp_path / "r", exist_ok=True, num_epochs=E + 1,
                                                config={**CONFIG, "seed": 3}),
                             tmp_path / "r", f"num_epochs: {E} -> {E + 1}",
                             "config.seed: (absent) -> 3")


def test_networks_stopped_at_different_epochs(tmp_path):
    store = make_store(tmp_path / "u")
    for k, stop in ((0, 3), (1, 2)):
        for split in ("train", "test"):
            for t in range(1, stop + 1):
                pred, prob = predictions(k, split, t)
                store.write_epoch(k, split, t, pred, true_prob=prob)
    store = RecordStore.open(tmp_path / "u")
    assert store.available_epochs("train") == store.available_epochs("test") == 2
    assert [store.completed_epochs(k) for k in range(K)] == [3, 2]
    records = list(store.iter_epochs("train"))
    assert [r.epoch for r in records] == [1, 2]
    for r in records:
        expected = np.stack([predictions(k, "train", r.epoch)[0] for k in range(K)])
        np.testing.assert_array_equal(r.predictions, expected)
    assert list(agreement_table(store, "test")["epoch"]) == [1, 2]
    assert_refused(lambda: store.read_predictions(1, "train", 3),
                   epoch_file(store, 1, "train", 3), "record file missing")
