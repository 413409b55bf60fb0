"""Train K networks on the same data and record every prediction, every epoch.

The loop is deliberately short (after airbench): the whole dataset lives on the
device as one uint8 tensor, each epoch is a shuffled sweep of mini-batches, and
the predictions for the record store come from the same forward pass
(``recording="online"``, as the paper's published code does: augmentation and
train-mode BatchNorm included) or from a separate eval-mode pass over the
un-augmented train set after each epoch (``"eval"``). Test predictions always
come from an eval-mode pass.

Network k uses seed ``seed + k`` for its initialisation and its data order;
after every epoch its records and a checkpoint are written atomically, so
rerunning an interrupted command resumes from the last finished epoch and ends
with the same records as an uninterrupted run (on the CPU).

Protocols (STUDY.md, paper appendix A) are expressed by :class:`TrainConfig`:
optimizer (SGD with momentum, or Adam), schedule (cosine annealing, step decay,
one-cycle, constant; all per optimisation step), weight decay, batch size,
epochs, resize and crop (random crop for training, center crop for testing),
and the random-label ablation (one fixed relabelling of the training set from
``label_seed``, the same for all K networks).
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import agreement
from ._io import atomic_path
from .data import get_dataset
from .data.base import to_array
from .errors import ConfigError
from .models import MODELS, build_model
from .records import RecordStore

RECORDING_MODES = ("online", "eval")
SCHEDULES = ("cosine", "step", "onecycle", "constant")
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a study; stored in the record store's metadata.

    Defaults follow the paper's CIFAR-10 protocol (SGD, momentum 0.9, batch
    128, weight decay 5e-4, cosine annealing from 0.1 to 5e-4, no
    augmentation) with a small network and few epochs, sized for a CPU.

    ``step_size`` is in epochs (the step schedule multiplies the learning rate
    by ``gamma`` every ``step_size`` epochs); ``onecycle`` follows PyTorch's
    ``OneCycleLR`` defaults with ``lr`` as the maximum (and cycles the momentum,
    or Adam's beta1, between 0.85 and 0.95). ``image_size`` resizes every image
    to a square of that side (None: keep the native size, which must be common
    to all images); ``crop`` takes a random crop of that side for training and
    the center crop for evaluation. ``stream`` decodes the images of every
    batch on demand instead of holding the split in memory (ImageNet-sized
    datasets; see :class:`StreamingImages`).
    """

    dataset: str = "cifar10"
    arch: str = "fastnet_small"
    num_networks: int = 5
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    min_lr: float = 5e-4
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    step_size: int = 30
    gamma: float = 0.1
    train_subset: int | float | None = 500
    test_subset: int | float | None = 100
    image_size: int | None = None
    crop: int | None = None
    random_labels: bool = False
    label_seed: int = 0
    seed: int = 0
    recording: str = "online"
    concurrent: bool = False
    stream: bool = False

    def __post_init__(self):
        object.__setattr__(self, "betas", tuple(self.betas))  # JSON gives a list
        choices = {"arch": MODELS, "recording": RECORDING_MODES, "schedule": SCHEDULES,
                   "optimizer": OPTIMIZERS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                kind = "architecture" if name == "arch" else name
                raise ConfigError(f"unknown {kind} {getattr(self, name)!r}; "
                                  f"known: {', '.join(sorted(allowed))}")
        for name in ("num_networks", "epochs", "batch_size", "step_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("image_size", "crop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be a positive size or None, got {value}")
        if self.crop and self.image_size and self.crop > self.image_size:
            raise ConfigError(f"crop {self.crop} is larger than image_size {self.image_size}")
        if self.stream and not self.image_size:
            raise ConfigError("stream=True needs image_size (streamed images are resized)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: Named configurations (``train --profile NAME``): the paper's protocols (STUDY.md, appendix
#: A) and small CPU-sized studies. Pascal VOC and ImageNet resize to a 256 square (the paper:
#: short side 256) and crop 224; ImageNet streams its images, the others are held in memory.
PROTOCOLS: dict[str, dict] = {
    "default": dict(dataset="cifar10", arch="fastnet_small", num_networks=5, epochs=10,
                    train_subset=500, test_subset=100),
    "tiny": dict(dataset="cifar10", arch="fastnet_small", num_networks=3, epochs=3,
                 train_subset=100, test_subset=50),
    "cifar10-fast": dict(dataset="cifar10", arch="fastnet", num_networks=5, epochs=10,
                         batch_size=512, lr=0.2, train_subset=None, test_subset=None,
                         concurrent=True),
    "cifar10": dict(dataset="cifar10", arch="densenet121", num_networks=5, epochs=60,
                    batch_size=128, lr=0.1, min_lr=5e-4, momentum=0.9, weight_decay=5e-4,
                    schedule="cosine", train_subset=None, test_subset=None),
    "cifar10-random-labels": dict(dataset="cifar10", arch="densenet121", num_networks=5,
                                  epochs=60, lr=0.001, random_labels=True, train_subset=None,
                                  test_subset=None),
    "kth": dict(dataset="kth", arch="densenet121", num_networks=5, epochs=60, batch_size=64,
                optimizer="adam", lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-5,
                schedule="onecycle", image_size=200, crop=190, train_subset=None,
                test_subset=None),
    "voc": dict(dataset="voc", arch="densenet121", num_networks=5, epochs=150, batch_size=128,
                lr=0.1, weight_decay=5e-4, schedule="step", step_size=50, gamma=0.2,
                image_size=256, crop=224, train_subset=None, test_subset=None),
    "imagenet": dict(dataset="imagenet", arch="densenet121", num_networks=5, epochs=100,
                     batch_size=128, lr=0.1, weight_decay=1e-5, schedule="step", step_size=30,
                     gamma=0.1, image_size=256, crop=224, train_subset=None, test_subset=None,
                     stream=True),
}


# ------------------------------------------------------------------ data
def load_dataset(config: TrainConfig, split: str, data_root=None, mirror=None):
    """The dataset of one split, with the configured subset."""
    subset = config.train_subset if split == "train" else config.test_subset
    return get_dataset(config.dataset, split, root=data_root, mirror=mirror, subset=subset)


def load_split(config: TrainConfig, split: str, data_root=None, mirror=None):
    """Return ``(images uint8 (N, H, W, 3), targets, example_ids)`` for one split."""
    dataset = load_dataset(config, split, data_root, mirror)
    size = (config.image_size, config.image_size) if config.image_size else None
    return dataset.load_array(size=size), dataset.targets, dataset.example_ids


def random_labels(num_examples: int, num_classes: int, seed: int) -> np.ndarray:
    """The fixed random relabelling of the random-label ablation (uniform over classes)."""
    return np.random.default_rng(seed).integers(0, num_classes, size=num_examples)


class StreamingImages:
    """A split's images decoded on demand, indexed like the in-memory uint8 tensor.

    For datasets too large to hold in memory (ImageNet: 1.28M images are 250 GB
    at 256x256): ``images[idx]`` (a tensor of rows, or a slice) decodes those
    rows with a thread pool, resizes them to ``size`` exactly as
    ``dataset.load_array(size)`` does, and returns a uint8 (B, H, W, 3) tensor
    on ``device``. Training, cropping and recording use it unchanged.
    """

    def __init__(self, dataset, size: tuple[int, int], device, threads: int = 8):
        self.dataset, self.size, self.device = dataset, size, torch.device(device)
        self.shape = (len(dataset), size[0], size[1], 3)
        self._pool = ThreadPoolExecutor(threads)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, slice):
            rows = range(*index.indices(len(self)))
        else:
            rows = torch.as_tensor(index).reshape(-1).tolist()
        arrays = list(self._pool.map(self._decode, rows))
        batch = np.stack(arrays) if arrays else np.zeros((0, *self.shape[1:]), np.uint8)
        return torch.from_numpy(batch).to(self.device)

    def _decode(self, row: int) -> np.ndarray:
        return to_array(self.dataset.load_image(row), self.size)


def to_float(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W)."""
    return (images.permute(0, 3, 1, 2).float() / 255 - mean) / std


def random_crop(images: torch.Tensor, size: int | None, generator: torch.Generator):
    """A random ``size`` x ``size`` crop of every image (one offset per image)."""
    n, height, width, _ = images.shape
    if size is None or (size == height and size == width):
        return images
    top = torch.randint(0, height - size + 1, (n, 1, 1), generator=generator)
    left = torch.randint(0, width - size + 1, (n, 1, 1), generator=generator)
    offsets = torch.arange(size)
    rows = (top + offsets.view(1, -1, 1)).to(images.device)
    cols = (left + offsets.view(1, 1, -1)).to(images.device)
    return images[torch.arange(n, device=images.device).view(-1, 1, 1), rows, cols]


def center_crop(images: torch.Tensor, size: int | None) -> torch.Tensor:
    height, width = images.shape[1:3]
    if size is None or (size == height and size == width):
        return images
    top, left = (height - size) // 2, (width - size) // 2
    return images[:, top:top + size, left:left + size]


# ------------------------------------------------------------------ schedules
def _cos_anneal(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def _one_cycle(step: int, total_steps: int, start: float, peak: float, end: float) -> float:
    # PyTorch OneCycleLR (pct_start 0.3, cosine, two phases), evaluated at ``step``.
    peak_step = 0.3 * total_steps - 1
    if step <= peak_step:
        return _cos_anneal(start, peak, step / peak_step if peak_step > 0 else 1.0)
    return _cos_anneal(peak, end, (step - peak_step) / (total_steps - 1 - peak_step))


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """Learning rate at optimisation ``step`` (0-based) of ``total_steps``."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":  # annealing from lr to min_lr, no restarts
        return _cos_anneal(config.lr, config.min_lr, step / max(total_steps, 1))
    if config.schedule == "step":
        epoch = step // max(total_steps // config.epochs, 1)
        return config.lr * config.gamma ** (epoch // config.step_size)
    initial = config.lr / 25  # OneCycleLR: div_factor 25, final_div_factor 1e4
    return _one_cycle(step, total_steps, initial, config.lr, initial / 1e4)


def momentum_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """SGD momentum (Adam: beta1) at ``step``: cycled 0.95 -> 0.85 -> 0.95 by one-cycle."""
    if config.schedule == "onecycle":
        return _one_cycle(step, total_steps, 0.95, 0.85, 0.95)
    return config.momentum if config.optimizer == "sgd" else config.betas[0]


def make_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, betas=config.betas,
                                weight_decay=config.weight_decay)
    return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def apply_schedule(optimizer, config: TrainConfig, step: int, total_steps: int) -> None:
    """Set the learning rate and momentum (Adam: beta1) of ``optimizer`` for ``step``."""
    lr, momentum = learning_rate(config, step, total_steps), momentum_at(config, step, total_steps)
    for group in optimizer.param_groups:
        group["lr"] = lr
        if "betas" in group:
            group["betas"] = (momentum, group["betas"][1])
        else:
            group["momentum"] = momentum


# ------------------------------------------------------------------ losses and predictions
def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, or binary cross-entropy per class for multi-label targets."""
    if targets.dtype == torch.bool:
        return F.binary_cross_entropy_with_logits(logits, targets.float())
    return F.cross_entropy(logits, targets)


@torch.no_grad()
def decide(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and the probability of the true answer.

    Single-label: the arg-max class and the softmax probability of the true
    class. Multi-label: the set of classes with sigmoid > 0.5 and the
    probability of exactly the true label set under independent sigmoids.
    """
    logits = logits.float()
    if targets.dtype == torch.bool:
        nll = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none")
        return logits > 0, torch.exp(-nll.sum(dim=1))
    return logits.argmax(1), logits.softmax(1).gather(1, targets[:, None])[:, 0]


@torch.no_grad()
def predict(model, images, mean, std, targets, batch_size=1024, crop=None):
    """Eval-mode predictions and true-answer probabilities for every image (center crop)."""
    model.eval()
    preds, probs = [], []
    for start in range(0, len(images), batch_size):
        batch = center_crop(images[start:start + batch_size], crop)
        pred, prob = decide(model(to_float(batch, mean, std)), targets[start:start + batch_size])
        preds.append(pred)
        probs.append(prob)
    return torch.cat(preds), torch.cat(probs)


def channel_stats(images, max_images: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 (N, H, W, 3) images, shaped (1, 3, 1, 1).

    Estimated from at most ``max_images`` evenly spaced images (all of them when
    there are fewer), so that streamed and in-memory splits normalise alike.
    """
    n = len(images)
    rows = torch.linspace(0, n - 1, min(n, max_images)).round().long() if n > max_images \
        else slice(None)
    x = images[rows].float().div_(255)
    return x.mean(dim=(0, 1, 2)).view(1, 3, 1, 1), x.std(dim=(0, 1, 2)).view(1, 3, 1, 1)


# ------------------------------------------------------------------ one network
def train_network(config, k, store, train, test, checkpoint_dir, device, progress=True):
    """Train network ``k`` from its last checkpoint to ``config.epochs``, recording each epoch."""
    (x_train, y_train), (x_test, y_test) = train, test
    mean, std = channel_stats(x_train)
    torch.manual_seed(config.seed + k)
    input_size = config.crop or x_train.shape[1]
    model = build_model(config.arch, store.num_classes, image_size=input_size).to(device)
    optimizer = make_optimizer(config, model.parameters())
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    checkpoint = Path(checkpoint_dir) / f"net{k:03d}.pt"
    start_epoch = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"])

    epochs = range(start_epoch + 1, config.epochs + 1)
    # disable=None: bars only on a terminal, so logs hold the summary lines alone.
    bar = tqdm(epochs, desc=f"net {k}", leave=False, disable=None if progress else True)
    for epoch in bar:
        model.train()
        # Data order and crops depend only on (seed, network, epoch): resuming replays them.
        generator = torch.Generator().manual_seed((config.seed + k) * 1_000_003 + epoch)
        order = torch.randperm(n, generator=generator).to(device)
        online_pred = torch.empty((n, *y_train.shape[1:]), dtype=y_train.dtype, device=device)
        online_prob = torch.empty(n, dtype=torch.float32, device=device)
        loss_sum = 0.0
        for i, start in enumerate(range(0, n, config.batch_size)):
            apply_schedule(optimizer, config, (epoch - 1) * steps_per_epoch + i, total_steps)
            idx = order[start:start + config.batch_size]
            batch = random_crop(x_train[idx], config.crop, generator)
            logits = model(to_float(batch, mean, std))
            loss = loss_fn(logits, y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            online_pred[idx], online_prob[idx] = decide(logits, y_train[idx])

        if config.recording == "online":
            train_pred, train_prob = online_pred, online_prob
        else:
            train_pred, train_prob = predict(model, x_train, mean, std, y_train, crop=config.crop)
        test_pred, test_prob = predict(model, x_test, mean, std, y_test, crop=config.crop)
        record_epoch(store, k, epoch, {"train": (train_pred, train_prob),
                                       "test": (test_pred, test_prob)})
        # Records first, checkpoint second: a crash in between only repeats this epoch.
        with atomic_path(checkpoint) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch}, tmp)
        bar.write(epoch_summary_line(store, k, epoch, loss_sum / n))


def record_epoch(store: RecordStore, k: int, epoch: int, recorded: dict) -> None:
    """Write network ``k``'s predictions and true-answer probabilities of every split."""
    for split, (pred, prob) in recorded.items():
        store.write_epoch(k, split, epoch, pred.cpu().numpy(),
                          true_prob=prob.float().cpu().numpy().astype(np.float16))


def epoch_summary_line(store: RecordStore, k: int, epoch: int, loss: float) -> str:
    """One line per epoch: loss, train and test accuracy, test TPa of the networks so far."""
    accuracy = {split: _correct(store, k, split, epoch).mean() for split in ("train", "test")}
    line = (f"net {k} epoch {epoch:3d}/{store.num_epochs}  loss {loss:.3f}  "
            f"train {accuracy['train']:6.1%}  test {accuracy['test']:6.1%}")
    done = [j for j in range(k + 1) if store.has_epoch(j, "test", epoch)]
    if len(done) > 1:  # one network agrees with itself: TPa would be a trivial 100%
        tpa = agreement.true_positive_agreement(
            np.stack([_correct(store, j, "test", epoch) for j in done]))
        line += f"  test TPa(nets {','.join(map(str, done))}) {tpa:6.1%}"
    return line


def _correct(store: RecordStore, k: int, split: str, epoch: int) -> np.ndarray:
    pred, target = store.read_predictions(k, split, epoch), store.targets(split)
    return (pred == target).all(axis=-1) if store.multilabel else pred == target


# ------------------------------------------------------------------ a study
def train_study(config: TrainConfig, out: str | Path, *, data_root=None, mirror=None,
                device: str | None = None, networks=None, progress: bool = True) -> RecordStore:
    """Train the study's networks (all, or the given indices) and return its record store.

    Rerunning the same command resumes: finished networks are skipped and an
    interrupted one continues from its last finished epoch. Separate jobs may
    train different networks of the same study into the same store.
    """
    out = Path(out)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train_set = load_dataset(config, "train", data_root, mirror)
    test_set = load_dataset(config, "test", data_root, mirror)
    size = (config.image_size, config.image_size) if config.image_size else None
    y_train, y_test = train_set.targets, test_set.targets
    if config.random_labels:
        if train_set.multilabel:
            raise ConfigError("random_labels is defined for single-label datasets only")
        y_train = random_labels(len(y_train), train_set.num_classes, config.label_seed)
    networks = list(range(config.num_networks) if networks is None else networks)
    bad = [k for k in networks if not 0 <= k < config.num_networks]
    if bad:
        raise ConfigError(f"network indices {bad} outside [0, {config.num_networks})")
    store = RecordStore.create(
        out, num_networks=config.num_networks, num_epochs=config.epochs,
        splits={"train": (train_set.example_ids, y_train),
                "test": (test_set.example_ids, y_test)},
        num_classes=train_set.num_classes, multilabel=train_set.multilabel,
        with_true_prob=True, config=config.to_dict(),
        seeds=[config.seed + k for k in range(config.num_networks)], exist_ok=True)
    todo = [k for k in networks if store.completed_epochs(k) < config.epochs]
    if not todo:
        return store

    def tensors(dataset, targets):
        if config.stream:
            images = StreamingImages(dataset, size, device)
        else:
            images = torch.from_numpy(dataset.load_array(size=size)).to(device)
        return images, torch.as_tensor(targets, device=device)

    train, test = tensors(train_set, y_train), tensors(test_set, y_test)
    checkpoint_dir = out / "checkpoints"
    if config.concurrent and len(todo) > 1:
        from .ensemble import train_concurrently

        try:
            train_concurrently(config, store, train, test, checkpoint_dir, device, todo, progress)
            return store
        except ConfigError as error:  # architecture without a concurrent version
            print(f"concurrent training unavailable ({error}); training one after another")
    for k in tqdm(todo, desc="networks", disable=None if progress else True):
        train_network(config, k, store, train, test, checkpoint_dir, device, progress)
    return store
