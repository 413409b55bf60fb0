"""Where results live: the one module that builds a path under the results root.

Layout of ``<results root>/<profile>/``::

    studies/<dataset>-<arch>-<hash>/   record stores (meta.json + one npz per network/split/epoch)
    statistics/<dataset>-<split>.parquet   (values another profile computed are reused)
    dynamics/<dataset>-<arch>-<hash>.parquet   learning-dynamics tables (one row per example)
    curriculum/<mode>/net<k>.parquet, curves.parquet, summary.csv
    own_loop/                           a record store written by a plain PyTorch loop
    pruning/<run>/, results.csv         the pruning experiment: a store per kept subset
    hacohen/order/*.csv, synthetic/*.csv   Hacohen et al.'s claims, noise ceiling, explained order
    claims.csv                          the paper's claims, our numbers, verdicts

A study's directory is named by a hash of its whole configuration, so a notebook that asks
for ``arch="resnet50"`` finds exactly the study trained with that configuration. The same
configuration is the same study whichever profile asks for it: a profile uses (and resumes)
another profile's directory of that study rather than training it again (the ``full`` and
``default`` profiles share their Pascal VOC and DTD studies).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..statistics import statistics_table_path
from ..training import TrainConfig


def study_slug(config: TrainConfig) -> str:
    """``<dataset>-<arch>-<8 hex digits of the configuration's hash>``."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=list)
    return f"{config.dataset}-{config.arch}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class ResultsLayout:
    """The results of one profile, under ``root`` (``<results root>/<profile>``)."""

    root: Path

    def study_dir(self, config: TrainConfig) -> Path:
        """The record store of ``config``: this profile's, else another profile's directory
        of the same configuration (the same slug) under the same results root, else this
        profile's (where it will be trained)."""
        own = self.root / "studies" / study_slug(config)
        if own.exists() or not self.root.parent.is_dir():
            return own
        for sibling in sorted(self.root.parent.iterdir()):
            other = sibling / "studies" / own.name
            if sibling != self.root and (other / "meta.json").is_file():
                return other
        return own

    @property
    def statistics_dir(self) -> Path:
        return self.root / "statistics"

    def statistics_path(self, dataset: str, split: str) -> Path:
        return statistics_table_path(self.statistics_dir, dataset, split)

    def statistics_elsewhere(self, dataset: str, split: str) -> list[Path]:
        """The same statistics table of the other profiles under the same results root: a
        statistic computed once serves every profile with the same definition and images
        (:func:`agreement_core.statistics.compute_statistics`, ``reuse``)."""
        if not self.root.parent.is_dir():
            return []
        return [statistics_table_path(sibling / "statistics", dataset, split)
                for sibling in sorted(self.root.parent.iterdir())
                if sibling != self.root and sibling.is_dir()]

    def dynamics_path(self, config: TrainConfig) -> Path:
        """The learning-dynamics table of ``config``'s study."""
        return self.root / "dynamics" / f"{study_slug(config)}.parquet"

    @property
    def claims_path(self) -> Path:
        """The claims table (:func:`agreement_core.study.claims.write_claims`)."""
        return self.root / "claims.csv"

    @property
    def hacohen_dir(self) -> Path:
        """Hacohen et al.'s analyses: ``order/`` (noise ceiling, explained order, nested
        agreed sets of the profile's CIFAR-10 studies) and ``synthetic/`` (MLPs on natural,
        synthetic and text data, boosting), the CSVs of :mod:`agreement_core.hacohen`."""
        return self.root / "hacohen"

    def hacohen_tables(self) -> dict[str, Path]:
        """Every CSV under :attr:`hacohen_dir`, by its name without suffix."""
        return {path.stem: path for path in sorted(self.hacohen_dir.glob("*/*.csv"))}

    @property
    def curriculum_dir(self) -> Path:
        """The curriculum experiment: one folder per mode (resumable curves per network)."""
        return self.root / "curriculum"

    @property
    def own_loop_dir(self) -> Path:
        """The record store of the "Your own model and data" chapter (a plain loop)."""
        return self.root / "own_loop"

    @property
    def pruning_dir(self) -> Path:
        """The pruning experiment: one record store per kept subset, and ``results.csv``."""
        return self.root / "pruning"

    @property
    def curriculum_curves_path(self) -> Path:
        return self.curriculum_dir / "curves.parquet"

    @property
    def curriculum_summary_path(self) -> Path:
        return self.curriculum_dir / "summary.csv"
