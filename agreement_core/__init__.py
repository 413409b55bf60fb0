"""agreement_core: per-example training dynamics from any PyTorch loop, and how K networks agree.

Record every example's prediction (and, if wanted, its margin or probabilities) at every
epoch of your own training loop, then compute agreement, AUM, EL2N, forgetting and the data
map from the record store. Three calls::

    from agreement_core.recorder import Recorder
    recorder = Recorder("runs/mine", splits={"train": (ids, targets)}, num_networks=1,
                        num_epochs=10, num_classes=10, keep="margin")
    recorder.update(0, "train", epoch, batch_ids, logits=logits)     # every batch
    recorder.finish_epoch(0, "train", epoch, model=model)            # every epoch

and the scores, one row per example::

    from agreement_core.scores import example_scores
    table = example_scores(recorder.store)     # aum, forgetting_events, correctness, ...

Modules: :mod:`~agreement_core.recorder` (per-batch recording, resumable, DDP),
:mod:`~agreement_core.records` (the record store), :mod:`~agreement_core.agreement` (agreement
metrics and per-example dynamics), :mod:`~agreement_core.scores` (AUM, EL2N, forgetting, the
data map, label-issue flags), :mod:`~agreement_core.integrations` (Lightning, Hugging Face).
The study (``pip install 'agreement-core[study]'``): :mod:`~agreement_core.data`,
:mod:`~agreement_core.training`, :mod:`~agreement_core.statistics`, :mod:`~agreement_core.study`.
Command line: ``python -m agreement_core --help``.
"""

__version__ = "0.1.0"
