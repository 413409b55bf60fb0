"""Training K networks: configuration, one optimization step, and the drivers that call it.

Modules, bottom-up:

- :mod:`~agreement_core.training.config`: :class:`TrainConfig`, the named :data:`PRESETS`,
  and the seed rule (:func:`network_seed`, :func:`data_seed`).
- :mod:`~agreement_core.training.schedules`: learning rate and momentum per step, optimizers.
- :mod:`~agreement_core.training.inputs`: a split on the device, crops, normalisation.
- :mod:`~agreement_core.training.step`: :func:`train_step` (the one place a network is
  updated), the loss, and a network's decision on an example.
- :mod:`~agreement_core.training.grouped`: K networks as one grouped network.
- :mod:`~agreement_core.training.trainer`: the epoch loop for one network or a group, with
  checkpoints and a callback per recorded epoch (:func:`train_networks`).
- :mod:`~agreement_core.training.curriculum`: the curriculum driver (paced batches).

Nothing here writes the record store: :func:`agreement_core.study.train_study` connects the
trainer to it.
"""

from .config import PRESETS, TrainConfig, data_seed, network_seed, preset
from .inputs import (
    SplitTensors,
    StreamingImages,
    center_crop,
    channel_stats,
    load_dataset,
    random_crop,
    random_labels,
    resolve_device,
    split_tensors,
    to_float,
    training_targets,
)
from .schedules import apply_schedule, learning_rate, make_optimizer, momentum_at
from .step import decide, loss_fn, network_losses, precision_autocast, predict, train_step
from .trainer import (
    GroupTrainer,
    OneNetwork,
    TrainingData,
    build_network,
    plan_groups,
    train_networks,
)

__all__ = [
    "PRESETS", "GroupTrainer", "OneNetwork", "SplitTensors", "StreamingImages", "TrainConfig",
    "TrainingData", "apply_schedule", "build_network", "center_crop", "channel_stats",
    "data_seed", "decide", "learning_rate", "load_dataset", "loss_fn", "make_optimizer",
    "momentum_at", "network_losses", "network_seed", "plan_groups", "precision_autocast",
    "predict", "preset",
    "random_crop", "random_labels", "resolve_device", "split_tensors", "to_float",
    "train_networks", "train_step", "training_targets",
]
