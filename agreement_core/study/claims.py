"""The claims table of a profile: its studies gathered, the table computed and written.

:func:`agreement_core.claims.claims_table` computes; this module knows which of the profile's
studies each claim needs (the main study's seed groups, the architecture families, the mixed
group, random labels, the batch sizes) and where the table is written
(``<results>/<profile>/claims.csv``), so the book and the closing notes cite the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .._io import write_table
from ..claims import (
    CLAIM_COLUMNS,
    claims_table,
    clutter_claims,
    imagenet_claims,
    pascal_claims,
    texture_claims,
)
from ..errors import StudyMissing
from ..records import RecordStore
from .runs import is_complete, study_statistics
from .workspace import Workspace


@dataclass(frozen=True)
class _Study:
    """A study's records and its statistics tables (split -> table)."""

    store: RecordStore
    statistics: dict


def _finished(workspace: Workspace, config) -> RecordStore | None:
    path = workspace.layout.study_dir(config)
    return RecordStore.open(path) if is_complete(path) else None


def _with_statistics(workspace: Workspace, config) -> _Study | None:
    store = _finished(workspace, config)
    return None if store is None else _Study(store, study_statistics(workspace, store,
                                                                     config.dataset))


def dataset_claims(workspace: Workspace) -> list:
    """The correlation claims on ImageNet (or its stand-in Imagenette), Pascal VOC (each
    architecture of Figs. 4 and 18, and the test set of Fig. 7) and on the texture dataset
    (DTD standing in for KTH-TIPS2-b), for the profile's studies; and Fig. 3's claim on the
    VOC statistics alone (harder images are more cluttered)."""
    profile, claims = workspace.profile, []
    if "imagenet" in profile.studies:
        config = profile.config("imagenet")
        stand_in = config.dataset != "imagenet"
        claims += imagenet_claims(
            _with_statistics(workspace, config),
            f"{'Imagenette' if stand_in else 'ImageNet'} {config.arch}",
            note="Imagenette stands in for ImageNet" if stand_in else "")
    if "voc" in profile.studies:
        base = profile.config("voc")
        for arch in dict.fromkeys((base.arch, *profile.voc_architectures)):
            config = profile.config("voc", arch=arch)
            study = _with_statistics(workspace, config)
            claims += pascal_claims(study, f"VOC {arch}")
            if arch == base.arch:
                claims += pascal_claims(study, f"VOC {arch}", split="test")
        path = workspace.layout.statistics_path("voc", "train")
        claims += clutter_claims(pd.read_parquet(path) if path.is_file() else None,
                                 "VOC train images")
    if "dtd" in profile.studies:
        config = profile.config("dtd")
        claims += texture_claims(_with_statistics(workspace, config), f"DTD {config.arch}",
                                 note="DTD stands in for KTH-TIPS2-b")
    return claims


def profile_claims(workspace: Workspace, *, n_boot: int = 200, seed=0) -> pd.DataFrame:
    """The claims table of ``workspace``'s profile from its finished studies.

    The main study's seed groups that are finished give the seed range (the first seed group
    must be finished); architectures, random labels and batch sizes without finished results
    get the verdict "not run yet". The mixed group is network 0 of every architecture trained
    for as many epochs as the main study.
    """
    profile = workspace.profile
    main = {}
    for seed_group, config in profile.seed_group_configs().items():
        store = _finished(workspace, config)
        if store is not None:
            main[seed_group] = _Study(store, study_statistics(workspace, store, "cifar10"))
    if not main:
        raise StudyMissing(f"profile {profile.name!r}: the main study has no finished results, "
                           "so the paper's claims cannot be tested yet; run 'python -m "
                           f"agreement_core build --profile {profile.name}'")
    base = profile.config("cifar10")
    architectures = {arch: _finished(workspace, profile.config("cifar10", arch=arch))
                     for arch in profile.architectures}
    mixed = [store for arch, store in architectures.items()
             if store is not None and store.num_epochs == base.epochs]
    random_labels = _finished(workspace, profile.config("cifar10-random-labels"))
    small, large = min(profile.batch_sizes), max(profile.batch_sizes)
    batch_sizes = {f"fixed lr {base.lr:g}": (
        _finished(workspace, profile.config("cifar10", batch_size=small)),
        _finished(workspace, profile.config("cifar10", batch_size=large)))}
    if profile.scaled_lr_batch_sizes:
        small_s, large_s = min(profile.scaled_lr_batch_sizes), max(profile.scaled_lr_batch_sizes)
        batch_sizes["lr scaled with batch"] = (
            _finished(workspace, profile.scaled_lr_config(small_s)),
            _finished(workspace, profile.scaled_lr_config(large_s)))
    statistics = next(iter(main.values())).statistics
    edges = next((c for c in ("crisp_edges", "sobel_edges")
                  if any(c in table for table in statistics.values())), "sobel_edges")
    return claims_table(main, architectures=architectures,
                        mixed=mixed if len(mixed) > 1 else None, random_labels=random_labels,
                        batch_sizes=batch_sizes, edge_statistic=edges,
                        correlation_claims=dataset_claims(workspace), n_boot=n_boot, seed=seed)


def write_claims(workspace: Workspace, **options) -> pd.DataFrame:
    """Compute the profile's claims table and write it to its ``claims.csv``."""
    table = profile_claims(workspace, **options)
    write_table(table, workspace.layout.claims_path)
    return table


def load_claims(workspace: Workspace, **options) -> pd.DataFrame:
    """The profile's ``claims.csv`` as ``build`` wrote it (computed and written if absent),
    so the book and the closing notes cite the same numbers."""
    path = workspace.layout.claims_path
    if not path.is_file():
        return write_claims(workspace, **options)
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if any(c not in table for c in CLAIM_COLUMNS):  # written by an older version
        return write_claims(workspace, **options)
    return table


__all__ = ["load_claims", "profile_claims", "write_claims"]
