"""A plain PyTorch training loop that records through :class:`~agreement_core.recorder.Recorder`.

This is what recording from your own loop looks like (the book's chapter "Your own model and
data" runs it): nothing here is special to the study's trainer. Copy the loop, keep the three
recorder calls (``epochs_to_run``, ``update``, ``finish_epoch``), and every analysis of the
library works on your records.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .._io import atomic_path
from ..data import ImageDataset
from ..errors import ConfigError
from ..models import build_model
from ..recorder import Recorder
from ..records import RecordStore

#: The plain loop's SGD settings besides the learning rate (its caption quotes them).
SGD_SETTINGS = {"momentum": 0.9, "weight_decay": 5e-4}


def _tensors(data: ImageDataset, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The split as float images (N, 3, size, size) in [0, 1], targets and ids."""
    images = torch.from_numpy(data.load_array((size, size))).permute(0, 3, 1, 2)
    return (images.float().div(255), torch.from_numpy(data.targets),
            torch.from_numpy(data.example_ids))


def train_with_recorder(path: str | os.PathLike, train: ImageDataset,
                        test: ImageDataset | None = None, *, arch: str = "lenet5_bn",
                        image_size: int = 32, num_networks: int = 3, epochs: int = 8,
                        batch_size: int = 128, lr: float = 0.05, keep: str = "probs",
                        with_true_prob: bool = False, seed: int = 0,
                        on_batch: Callable | None = None,
                        progress: Callable | None = None) -> RecordStore:
    """Train ``num_networks`` networks with plain SGD and record them per batch.

    Resumable: the recorder resumes after the last finished epoch, and each network's
    weights and optimizer state are saved (atomically) after every epoch in
    ``<path>/checkpoints``.

    Parameters
    ----------
    path : path-like
        The record store.
    train, test : ImageDataset
        E.g. ``get_dataset("cifar10", "train", subset=200)`` or :func:`~agreement_core.data.
        wrap_dataset` of your own.
    arch : str
        A model of the registry.
    image_size : int
        Images are resized to squares of this side.
    num_networks, epochs, batch_size, lr, seed
        K networks, seeded ``seed + k``; SGD with momentum 0.9 and weight decay 5e-4.
    keep : {"none", "margin", "scores", "probs"}
        What the store keeps per example beyond the prediction (AUM, EL2N).
    with_true_prob : bool
        Keep the true-class probability (the data map).
    on_batch : callable, optional
        ``on_batch(network, split, epoch, ids, logits)`` after every recorded batch (e.g. to
        check the store against a direct computation).
    progress : callable, optional
        ``progress(message)`` after every epoch.
    """
    path = Path(path)
    x_train, y_train, id_train = _tensors(train, image_size)
    splits = {"train": (id_train, y_train)}
    if test is not None:
        x_test, y_test, id_test = _tensors(test, image_size)
        splits["test"] = (id_test, y_test)
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True)
    recorder = Recorder(path, splits=splits, num_networks=num_networks, num_epochs=epochs,
                        num_classes=train.num_classes, keep=keep,
                        with_true_prob=with_true_prob,
                        config={"arch": arch, "image_size": image_size, "epochs": epochs,
                                "batch_size": batch_size, "lr": lr, "seed": seed,
                                "dataset": getattr(train, "name", type(train).__name__),
                                "trained_by": "agreement_core.study.own_loop"})

    def record(k, split, epoch, x, y, ids, model):
        logits = model((x - mean) / std)
        recorder.update(k, split, epoch, ids, logits=logits, targets=y)
        if on_batch is not None:
            on_batch(k, split, epoch, ids, logits.detach())
        return logits

    for k in range(num_networks):
        todo = recorder.epochs_to_run(k)
        if not todo:
            continue
        torch.manual_seed(seed + k)
        model = build_model(arch, train.num_classes, image_size=image_size)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, **SGD_SETTINGS)
        checkpoint = path / "checkpoints" / f"net{k:03d}.pt"
        if todo.start > 1:
            if not checkpoint.is_file():
                raise ConfigError(f"{path}: network {k} has {todo.start - 1} recorded epochs "
                                  f"but no checkpoint {checkpoint} to resume its weights")
            state = torch.load(checkpoint, weights_only=True)
            if state["epoch"] != todo.start - 1:
                raise ConfigError(f"{checkpoint} holds epoch {state['epoch']}, the records "
                                  f"end at epoch {todo.start - 1}")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            recorder.restored(k, model)      # checked against the recorded fingerprint
        generator = torch.Generator().manual_seed(seed + k)
        for epoch in todo:
            model.train()
            for rows in torch.randperm(len(y_train), generator=generator).split(batch_size):
                logits = record(k, "train", epoch, x_train[rows], y_train[rows],
                                id_train[rows], model)
                loss = F.cross_entropy(logits, y_train[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            recorder.finish_epoch(k, "train", epoch, model=model)
            if test is not None:
                model.eval()
                with torch.no_grad():
                    for rows in torch.arange(len(y_test)).split(512):
                        record(k, "test", epoch, x_test[rows], y_test[rows], id_test[rows],
                               model)
                recorder.finish_epoch(k, "test", epoch, model=model)
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(checkpoint) as tmp:
                torch.save({"epoch": epoch, "model": model.state_dict(),
                            "optimizer": optimizer.state_dict()}, tmp)
            if progress is not None:
                store = recorder.store
                right = np.mean(store.read_predictions(k, "train", epoch)
                                == store.targets("train"))
                progress(f"network {k} epoch {epoch}/{epochs}: train accuracy {right:.3f}")
    return recorder.store


def torchvision_cifar10(split: str, locations, every: int = 1):
    """CIFAR-10 as a plain torchvision dataset, the way a user's code has it: an
    ``ImageFolder`` over the offline mirror's extracted JPEGs when they are there, else
    ``torchvision.datasets.CIFAR10`` (downloaded with internet). Every ``every``-th image
    (a ``Subset`` keeping ``targets`` and ``classes``, so its index is a stable id)."""
    import torchvision

    from ..data import CIFAR10

    data = CIFAR10(split, root=locations.data_root, mirror=locations.mirror)
    folder = Path(data.root) / split
    if data.source == "mirror-jpeg" and folder.is_dir():
        full = torchvision.datasets.ImageFolder(folder)
    else:
        full = torchvision.datasets.CIFAR10(locations.data_root, train=split == "train",
                                            download=True)
    rows = list(range(0, len(full), every))
    subset = torch.utils.data.Subset(full, rows)
    subset.targets = [full.targets[i] for i in rows]
    subset.classes = full.classes
    return subset, np.asarray(rows)


def own_loop_datasets(workspace) -> dict[str, ImageDataset]:
    """CIFAR-10 as torchvision datasets (every ``own_loop["every"]``-th image), wrapped with
    their row indices as ids: the data of the own-loop run and of the pruning experiment."""
    from ..data import wrap_dataset

    every = workspace.profile.own_loop["every"]
    wrapped = {}
    for split in ("train", "test"):
        dataset, ids = torchvision_cifar10(split, workspace.locations, every)
        wrapped[split] = wrap_dataset(dataset, ids=ids, split=split,
                                      name=f"CIFAR-10 {split} (torchvision-style)")
    return wrapped


def progress_printer(enabled: bool, label: str) -> Callable[[str], None] | None:
    """A ``progress`` callback that prints ``  <label>: <message>`` (None when disabled)."""
    return (lambda message: print(f"  {label}: {message}", flush=True)) if enabled else None


def run_own_loop(workspace, *, progress: bool = True) -> RecordStore:
    """The book's "Your own model and data" run: :func:`train_with_recorder` on CIFAR-10 as a
    torchvision dataset wrapped by :func:`~agreement_core.data.wrap_dataset`, with the
    profile's ``own_loop`` settings, into the workspace's ``own_loop`` store (resumable)."""
    settings = {k: v for k, v in workspace.profile.own_loop.items() if k != "every"}
    data = own_loop_datasets(workspace)
    return train_with_recorder(workspace.own_loop_dir, data["train"], data["test"],
                               progress=progress_printer(progress, "own loop"), **settings)


__all__ = ["SGD_SETTINGS", "own_loop_datasets", "progress_printer", "run_own_loop",
           "torchvision_cifar10", "train_with_recorder"]
