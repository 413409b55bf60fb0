"""The recorder inside PyTorch Lightning and the Hugging Face Trainer (the optional extras,
installed by the test extra)."""

import numpy as np
import pytest
import torch
from torch import nn

from agreement_core.errors import ConfigError
from agreement_core.recorder import Recorder
from agreement_core.records import RecordStore, true_class_margin

N, C = 48, 3


def _data(seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 5, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 1).long()
    ids = torch.arange(1000, 1000 + N)
    return x, y, ids


def _recorder(path, y, ids, epochs=2, splits=("train",)):
    return Recorder(path, splits={s: (ids.numpy(), y.numpy()) for s in splits},
                    num_networks=1, num_epochs=epochs, num_classes=C, keep="margin")


def test_lightning_callback_records_every_training_batch_and_the_validation_split(tmp_path):
    lightning = pytest.importorskip("lightning")
    from agreement_core.integrations import lightning_callback

    x, y, ids = _data()
    seen = {}

    class Module(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(5, C)

        def training_step(self, batch, batch_idx):
            xb, yb, ib = batch
            logits = self.net(xb)
            for i, z in zip(ib.tolist(), logits.detach().numpy(), strict=True):
                seen[(self.current_epoch + 1, i)] = z
            return {"loss": nn.functional.cross_entropy(logits, yb), "logits": logits}

        def validation_step(self, batch, batch_idx):
            return {"logits": self.net(batch[0])}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y, ids),
                                         batch_size=16, shuffle=True)
    ordered = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y, ids),
                                          batch_size=16)
    recorder = _recorder(tmp_path / "s", y, ids, splits=("train", "test"))
    trainer = lightning.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False,
                                callbacks=[lightning_callback(recorder, 0, eval_split="test")])
    trainer.fit(Module(), loader, ordered)
    store = RecordStore.open(tmp_path / "s")
    assert store.available_epochs("train") == 2 and store.available_epochs("test") == 2
    for epoch in (1, 2):
        logits = np.stack([seen[(epoch, i)] for i in ids.tolist()])
        np.testing.assert_array_equal(store.read_predictions(0, "train", epoch),
                                      logits.argmax(axis=1))


def test_hugging_face_trainer_records_through_compute_loss(tmp_path):
    transformers = pytest.importorskip("transformers")
    from agreement_core.integrations import recording_trainer

    x, y, ids = _data(1)
    seen = {}

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(5, C)

        def forward(self, features, labels=None):
            logits = self.net(features)
            if self.training:
                for z in logits.detach().numpy():
                    seen.setdefault("batch", []).append(z)
            loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
            return {"loss": loss, "logits": logits}

    rows = [{"features": x[i], "labels": int(y[i]), "example_id": int(ids[i])}
            for i in range(N)]
    recorder = _recorder(tmp_path / "s", y, ids)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=16,
        remove_unused_columns=False, report_to=[], use_cpu=True, save_strategy="no",
        logging_strategy="no", disable_tqdm=True, learning_rate=0.1)
    trainer = recording_trainer(recorder, 0, model=Model(), args=args, train_dataset=rows)
    trainer.train()
    store = RecordStore.open(tmp_path / "s")
    assert store.available_epochs("train") == 2
    assert len(seen["batch"]) == 2 * N                      # every example, every epoch
    margins = store.read_margin(0, "train", 2)
    assert np.isfinite(margins).all() and margins.std() > 0
    with pytest.raises(ConfigError, match="remove_unused_columns=False"):
        recording_trainer(recorder, 0, model=Model(),
                          args=transformers.TrainingArguments(output_dir=str(tmp_path / "o"),
                                                              report_to=[], use_cpu=True),
                          train_dataset=rows)


# ---------------------------------------------------------------- two processes (gloo)
try:
    import lightning as _lightning
except ImportError:
    _lightning = None

if _lightning is not None:
    class _Fixed(_lightning.LightningModule):
        """A linear model that does not learn (lr 0): every epoch's records are its logits.
        At module level: ddp_spawn pickles it into the worker processes."""

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Linear(5, C)

        def training_step(self, batch, batch_idx):
            logits = self.net(batch[0])
            return {"loss": nn.functional.cross_entropy(logits, batch[1]), "logits": logits}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)


def test_lightning_callback_records_under_ddp_with_two_processes(tmp_path):
    lightning = pytest.importorskip("lightning")
    from agreement_core.integrations import lightning_callback

    x, y, ids = _data()
    x, y, ids = x[:45], y[:45], ids[:45]       # 45 = 2 x 22 + 1: padding, ragged batches
    recorder = Recorder(tmp_path / "s", splits={"train": (ids.numpy(), y.numpy())},
                        num_networks=1, num_epochs=2, num_classes=C, keep="margin")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y, ids),
                                         batch_size=8, shuffle=True)
    trainer = lightning.Trainer(max_epochs=2, accelerator="cpu", devices=2,
                                strategy="ddp_spawn", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False,
                                callbacks=[lightning_callback(recorder, 0)])
    module = _Fixed()
    with torch.no_grad():
        expected = module.net(x)
    trainer.fit(module, loader)
    store = RecordStore.open(tmp_path / "s")
    assert store.available_epochs("train") == 2
    order = np.argsort(ids.numpy())[np.searchsorted(np.sort(ids.numpy()),
                                                    store.example_ids("train"))]
    for epoch in (1, 2):
        np.testing.assert_array_equal(store.read_predictions(0, "train", epoch),
                                      expected.argmax(1).numpy()[order])
        np.testing.assert_allclose(store.read_margin(0, "train", epoch),
                                   true_class_margin(expected.numpy(), y.numpy())[order],
                                   atol=1e-5)


class _FixedHF(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(5, C)

    def forward(self, features, labels=None):
        logits = self.net(features)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


def _hf_worker(rank, path, port, rows):
    import os

    import transformers

    from agreement_core.integrations import recording_trainer

    # What torchrun sets: the Trainer (accelerate) starts the gloo process group from it.
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
    torch.set_num_threads(1)
    y = torch.tensor([r["labels"] for r in rows])
    ids = torch.tensor([r["example_id"] for r in rows])
    recorder = _recorder(path, y, ids)
    args = transformers.TrainingArguments(
        output_dir=f"{path}-out", num_train_epochs=2, per_device_train_batch_size=8,
        remove_unused_columns=False, report_to=[], use_cpu=True, save_strategy="no",
        logging_strategy="no", disable_tqdm=True, learning_rate=0.0, ddp_backend="gloo")
    trainer = recording_trainer(recorder, 0, model=_FixedHF(), args=args, train_dataset=rows)
    assert trainer.args.world_size == 2
    trainer.train()


def test_hugging_face_trainer_records_under_ddp_with_two_processes(tmp_path):
    pytest.importorskip("transformers")
    import socket

    import torch.multiprocessing as mp

    x, y, ids = _data(2)
    x, y, ids = x[:45], y[:45], ids[:45]
    rows = [{"features": x[i], "labels": int(y[i]), "example_id": int(ids[i])}
            for i in range(45)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_hf_worker, args=(str(tmp_path / "s"), port, rows), nprocs=2, join=True)
    store = RecordStore.open(tmp_path / "s")
    assert store.available_epochs("train") == 2
    with torch.no_grad():
        expected = _FixedHF()(x)["logits"].numpy()
    order = np.searchsorted(ids.numpy(), store.example_ids("train"))
    for epoch in (1, 2):
        np.testing.assert_array_equal(store.read_predictions(0, "train", epoch),
                                      expected.argmax(1)[order])
        np.testing.assert_allclose(store.read_margin(0, "train", epoch),
                                   true_class_margin(expected, y.numpy())[order], atol=1e-5)


def test_lightning_resumes_from_its_checkpoint_and_refuses_another_state(tmp_path):
    lightning = pytest.importorskip("lightning")
    from agreement_core.integrations import lightning_callback

    x, y, ids = _data(3)

    class Learner(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(5, C)

        def training_step(self, batch, batch_idx):
            logits = self.net(batch[0])
            return {"loss": nn.functional.cross_entropy(logits, batch[1]), "logits": logits}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y, ids),
                                         batch_size=16)

    def fit(epochs, module, ckpt_path=None):
        trainer = lightning.Trainer(
            max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
            callbacks=[lightning_callback(_recorder(tmp_path / "s", y, ids, epochs=3), 0)])
        trainer.fit(module, loader, ckpt_path=ckpt_path)
        return trainer

    fit(1, Learner()).save_checkpoint(tmp_path / "epoch1.ckpt")
    fit(2, Learner(), tmp_path / "epoch1.ckpt")               # restored: checked, recorded
    assert RecordStore.open(tmp_path / "s").completed_epochs(0) == 2
    fit(3, Learner(), tmp_path / "epoch1.ckpt")               # older state: 2, 3 again
    assert RecordStore.open(tmp_path / "s").completed_epochs(0) == 3
    state = torch.load(tmp_path / "epoch1.ckpt", weights_only=False)
    state["state_dict"]["net.bias"] += 1.0                    # not epoch 1's state
    torch.save(state, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not those recorded at the end of epoch 1"):
        fit(3, Learner(), tmp_path / "other.ckpt")
