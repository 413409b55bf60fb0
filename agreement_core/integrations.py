"""The recorder inside PyTorch Lightning and the Hugging Face Trainer (optional extras).

Both wrap :class:`~agreement_core.recorder.Recorder`; nothing here is imported by the rest of
the package, and each function imports its framework only when called
(``pip install agreement-core[lightning]`` or ``[huggingface]``).

- :func:`lightning_callback`: a Lightning ``Callback``. Your ``training_step`` (and, to
  record a test split, ``validation_step``) returns a dict with the ``loss`` and the
  ``logits``; each batch ends with its example ids (``batch[-1]``, or ``batch["example_id"]``
  for dict batches).
- :func:`recording_trainer`: a Hugging Face ``Trainer`` that records the logits of every
  training batch. The Trainer's callbacks never see model outputs (the data-map request in
  transformers issue 31647), so the recording happens in ``compute_loss``; the dataset keeps
  an ``example_id`` column (``remove_unused_columns=False``), which is taken out of the
  inputs before the model sees them.

Under distributed training (DDP: ``torch.distributed``, one process per device) every
process records its own batches and the recorder gathers them on rank 0 at the end of each
epoch (:class:`~agreement_core.recorder.Recorder`); a sampler's padding duplicates count
once. Each epoch is finished with the model's fingerprint; a run resumed from a checkpoint
(Lightning's ``ckpt_path``, the Trainer's ``resume_from_checkpoint``) is checked against it.
"""

from __future__ import annotations

from .errors import ConfigError
from .recorder import Recorder


def _batch_ids(batch, id_key: str):
    return batch[id_key] if isinstance(batch, dict) else batch[-1]


_CLASSES: dict = {}


def _lightning_class():
    """The callback class, built on first use (Lightning is an optional extra) and reachable
    as ``agreement_core.integrations.AgreementRecorder``, so that ``ddp_spawn`` can pickle
    it into the worker processes."""
    if "AgreementRecorder" in _CLASSES:
        return _CLASSES["AgreementRecorder"]
    from lightning.pytorch.callbacks import Callback

    class AgreementRecorder(Callback):
        def __init__(self, recorder, network, train_split, eval_split, logits_key, id_key):
            self.recorder, self.network = recorder, network
            self.train_split, self.eval_split = train_split, eval_split
            self.logits_key, self.id_key = logits_key, id_key

        def on_train_start(self, trainer, pl_module):
            if trainer.current_epoch > 0:            # resumed from a checkpoint (ckpt_path)
                self.recorder.restored(self.network, pl_module, epoch=trainer.current_epoch)

        def _update(self, trainer, split, outputs, batch):
            if not isinstance(outputs, dict) or self.logits_key not in outputs:
                raise ConfigError(f"the step must return a dict with {self.logits_key!r} "
                                  "(and 'loss') for the recorder")
            self.recorder.update(self.network, split, trainer.current_epoch + 1,
                                 _batch_ids(batch, self.id_key),
                                 logits=outputs[self.logits_key])

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._update(trainer, self.train_split, outputs, batch)

        def on_train_epoch_end(self, trainer, pl_module):
            self.recorder.finish_epoch(self.network, self.train_split,
                                       trainer.current_epoch + 1, model=pl_module)

        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                    dataloader_idx=0):
            if self.eval_split is not None and not trainer.sanity_checking:
                self._update(trainer, self.eval_split, outputs, batch)

        def on_validation_epoch_end(self, trainer, pl_module):
            if self.eval_split is not None and not trainer.sanity_checking:
                self.recorder.finish_epoch(self.network, self.eval_split,
                                           trainer.current_epoch + 1, model=pl_module)

    AgreementRecorder.__qualname__ = "AgreementRecorder"
    AgreementRecorder.__module__ = __name__
    _CLASSES["AgreementRecorder"] = AgreementRecorder
    return AgreementRecorder


def __getattr__(name: str):
    if name == "AgreementRecorder":
        return _lightning_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lightning_callback(recorder: Recorder, network: int, *, train_split: str = "train",
                       eval_split: str | None = None, logits_key: str = "logits",
                       id_key: str = "example_id"):
    """A Lightning ``Callback`` that records network ``network`` into ``recorder``.

    Parameters
    ----------
    recorder : Recorder
    network : int
        Which of the recorder's K networks this Trainer trains (one Trainer per network).
    train_split : str
        The recorder's split of the training batches (recorded online, as they train).
    eval_split : str, optional
        The recorder's split of the validation batches (e.g. ``"test"``), recorded after
        every epoch; the sanity check before training is not recorded.
    logits_key, id_key : str
        Where the logits are in the step's returned dict, and the ids in a dict batch.
    """
    return _lightning_class()(recorder, network, train_split, eval_split, logits_key, id_key)


def recording_trainer(recorder: Recorder, network: int, *, split: str = "train",
                      id_column: str = "example_id", **trainer_kwargs):
    """A Hugging Face ``Trainer`` (built with ``trainer_kwargs``) that records the logits of
    every training batch of network ``network`` into ``recorder``, and finishes the epoch
    when the Trainer does.

    The training arguments must keep the id column (``remove_unused_columns=False``); the
    model's output has ``logits``. Epochs are the Trainer's, counted from 1.
    """
    from transformers import Trainer, TrainerCallback

    args = trainer_kwargs.get("args")
    if args is None or args.remove_unused_columns:
        raise ConfigError("pass args=TrainingArguments(..., remove_unused_columns=False): the "
                          f"Trainer would drop the {id_column!r} column the recorder needs")
    epoch = {"now": 1}

    class EpochBoundaries(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if (state.epoch or 0) >= 1:              # resumed from a checkpoint
                recorder.restored(network, model, epoch=int(round(state.epoch)))

        def on_epoch_begin(self, args, state, control, **kwargs):
            epoch["now"] = int(round(state.epoch or 0)) + 1

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            recorder.finish_epoch(network, split, epoch["now"], model=model)

    class RecordingTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            ids = inputs.pop(id_column)
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, **kwargs)
            if model.training:
                logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
                recorder.update(network, split, epoch["now"], ids, logits=logits,
                                targets=inputs.get("labels"))
            return (loss, outputs) if return_outputs else loss

    callbacks = [*(trainer_kwargs.pop("callbacks", None) or []), EpochBoundaries()]
    return RecordingTrainer(callbacks=callbacks, **trainer_kwargs)


__all__ = ["lightning_callback", "recording_trainer"]
