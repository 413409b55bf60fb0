"""The claims table of a profile: its studies gathered, the table computed, written and read.

:func:`agreement_core.claims.claims_table` computes; this module knows which of the profile's
studies each claim needs (every seed group of the main study and of the seeded ablations, the
architecture families, the mixed group, random labels, the batch sizes, Pascal VOC, the
texture and ImageNet stand-ins) and where the table is written
(``<results>/<profile>/claims.csv``), so the book, the command line and the closing notes
cite the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._io import file_digest, read_table, write_table
from ..claims import CLAIM_COLUMNS, Studies, StudyGroups, claims_table
from ..errors import DerivedFileError, StudyMissing
from ..records import RecordStore, store_fingerprint
from ..specification import SPEC_BY_ID, VERDICTS
from ..training import TrainConfig
from .runs import dataset_available, is_complete, study_statistics
from .workspace import Workspace

#: How the table names the stand-ins.
STAND_INS = {"imagenette": "Imagenette", "dtd": "DTD"}


def _groups(workspace: Workspace, config: TrainConfig, label: str, *,
            capacity: bool = False) -> StudyGroups:
    """``config`` and its seed variants (when its role is seeded, or it is the main study):
    the finished ones, with the statistics tables of its dataset (and, with ``capacity``,
    the network's parameter count)."""
    profile = workspace.profile
    configs = [config, *profile.seed_variants(config).values()]
    stores = []
    for c in configs:
        path = workspace.layout.study_dir(c)
        if is_complete(path):
            stores.append(RecordStore.open(path))
    present = dataset_available(config.dataset, workspace.locations)
    statistics = study_statistics(workspace, stores[0], config.dataset) if stores else {}
    return StudyGroups(label, stores, statistics, present=present,
                       parameters=parameter_count(config) if capacity else None)


def parameter_count(config: TrainConfig) -> int | None:
    """The number of parameters of ``config``'s network (its capacity)."""
    from ..models import build_model  # torch models: only when a table is computed

    try:
        model = build_model(config.arch, num_classes=getattr(config, "num_classes", None) or 10,
                            image_size=config.crop or config.image_size or 32)
    except Exception:  # an architecture that cannot be built here has no count
        return None
    return sum(p.numel() for p in model.parameters())


def profile_studies(workspace: Workspace) -> Studies:
    """Every study of ``workspace``'s profile the claims need, each with its seed groups."""
    profile = workspace.profile
    base = profile.config("cifar10")
    main = _groups(workspace, base, f"{base.arch} (main)", capacity=True)
    if not main.stores:
        raise StudyMissing(f"profile {profile.name!r}: the main study has no finished results, "
                           "so the paper's claims cannot be tested yet; run 'python -m "
                           f"agreement_core build --profile {profile.name}'")
    # Every finished seed group of a study counts: the profile trains them for the main
    # study and its seeded roles (``Profile.seeded_roles``), none for the others.

    def groups(config: TrainConfig, label: str) -> StudyGroups:
        return main if config == base else _groups(workspace, config, label)

    families = {}
    for arch in profile.architectures:
        config = profile.config("cifar10", arch=arch)
        families[arch] = main if config == base else _groups(workspace, config, arch,
                                                             capacity=True)
    mixed = [s for s in families.values() if s.stores and s.stores[0].num_epochs == base.epochs]
    random_labels = groups(profile.config("cifar10-random-labels"), "random labels")
    small, large = min(profile.batch_sizes), max(profile.batch_sizes)
    batch_sizes = {f"fixed lr {base.lr:g}": (
        groups(profile.config("cifar10", batch_size=small), f"batch {small}, lr {base.lr:g}"),
        groups(profile.config("cifar10", batch_size=large), f"batch {large}, lr {base.lr:g}"))}
    if profile.scaled_lr_batch_sizes:
        s, g = min(profile.scaled_lr_batch_sizes), max(profile.scaled_lr_batch_sizes)
        batch_sizes["lr scaled with batch"] = (
            groups(profile.scaled_lr_config(s), f"batch {s}, lr {profile.scaled_lr(s):g}"),
            groups(profile.scaled_lr_config(g), f"batch {g}, lr {profile.scaled_lr(g):g}"))
    studies = Studies(main=main, families=families, mixed=mixed if len(mixed) > 1 else [],
                      random_labels=random_labels, batch_sizes=batch_sizes,
                      kth_present=dataset_available("kth", workspace.locations),
                      hacohen={name: read_table(path) for name, path
                               in workspace.layout.hacohen_tables().items()})
    if "voc" in profile.studies:
        voc = profile.config("voc")
        for arch in dict.fromkeys((voc.arch, *profile.voc_architectures)):
            config = profile.config("voc", arch=arch)
            studies.voc[arch] = groups(config, f"VOC {arch}")
    for role, attr in (("dtd", "texture"), ("imagenet", "imagenet")):
        if role in profile.studies:
            config = profile.config(role)
            name = STAND_INS.get(config.dataset, config.dataset)
            setattr(studies, attr, groups(config, f"{name} {config.arch}"))
    return studies


def profile_claims(workspace: Workspace, *, n_boot: int = 200, seed=0) -> pd.DataFrame:
    """The claims table of ``workspace``'s profile from its finished studies."""
    return claims_table(profile_studies(workspace), n_boot=n_boot, seed=seed)


#: The version of the claims table's columns and verdict rules: a table written under
#: another reads as stale and is computed again.
CLAIMS_SCHEMA = 3


def claims_inputs(workspace: Workspace, *, n_boot: int = 200, seed=0) -> dict:
    """What a profile's claims table is derived from (its provenance): the fingerprint of
    every finished study of the profile (``"incomplete"`` for the others), the digest of every
    statistics table and of Hacohen et al.'s tables, whether each dataset is here, and the
    options."""
    layout = workspace.layout
    stores = {}
    for role, config in workspace.profile.configs().items():
        path = layout.study_dir(config)
        stores[role] = store_fingerprint(path) if is_complete(path) else "incomplete"
    statistics = {p.name: file_digest(p) for p in sorted(layout.statistics_dir.glob("*.parquet"))}
    hacohen = {name: file_digest(path) for name, path in layout.hacohen_tables().items()}
    datasets = {name: dataset_available(name, workspace.locations)
                for name in ("cifar10", "voc", "dtd", "imagenette", "kth")}
    return {"stores": stores, "statistics": statistics, "hacohen": hacohen,
            "datasets": datasets, "n_boot": int(n_boot), "seed": seed, "schema": CLAIMS_SCHEMA}


def write_claims(workspace: Workspace, **options) -> pd.DataFrame:
    """Compute the profile's claims table and write it to its ``claims.csv``, with its
    provenance (:func:`claims_inputs`) beside it."""
    table = profile_claims(workspace, **options)
    write_table(table, workspace.layout.claims_path,
                provenance=claims_inputs(workspace, **options))
    return table


def check_claims(table: pd.DataFrame, path) -> pd.DataFrame:
    """Refuse a claims table whose values cannot be ours: other columns, a claim the
    specification does not have, an unknown verdict, an interval that does not hold its
    value, a p-value outside [0, 1]. One line naming the file and the first bad row."""
    remedy = "compute it again: python -m agreement_core claims --recompute"
    if list(table.columns) != CLAIM_COLUMNS:
        raise DerivedFileError(path, "not a claims table of this version (other columns)",
                               remedy)
    for i, row in enumerate(table.itertuples(index=False), start=2):
        why = ""
        if row.spec_id not in SPEC_BY_ID:
            why = f"claim {row.spec_id!r} is not in the specification"
        elif row.verdict not in VERDICTS:
            why = f"verdict {row.verdict!r} is not one of {', '.join(VERDICTS)}"
        elif np.isfinite(row.ci_low) and not (row.ci_low - 1e-9 <= row.value
                                              <= row.ci_high + 1e-9):
            why = f"interval [{row.ci_low:g}, {row.ci_high:g}] does not hold {row.value:g}"
        elif any(np.isfinite(p) and not 0 <= p <= 1 for p in (row.p_value, row.p_holm)):
            why = "a p-value outside [0, 1]"
        if why:
            raise DerivedFileError(path, f"line {i} ({row.claim_id}): {why}", remedy)
    return table


def read_claims(path, inputs: dict | None = None) -> pd.DataFrame:
    """A written claims table, checked (:func:`check_claims`) and, with ``inputs``, current
    (derived from them).

    Raises
    ------
    DerivedFileError
        Missing, unreadable, edited since written, stale, or holding values that cannot be
        ours; one line naming the file.
    """
    table = read_table(path, inputs, keep_default_na=False, na_values=[""])
    return check_claims(table, path)


def load_claims(workspace: Workspace, **options) -> pd.DataFrame:
    """The profile's ``claims.csv`` as ``build`` wrote it, so the book and the closing notes
    cite the same numbers; computed and written again when it is missing, edited, stale
    (a study or statistics table changed since) or from an older version."""
    try:
        return read_claims(workspace.layout.claims_path, claims_inputs(workspace, **options))
    except DerivedFileError:
        return write_claims(workspace, **options)


__all__ = ["CLAIMS_SCHEMA", "check_claims", "claims_inputs", "load_claims", "parameter_count",
           "profile_claims", "profile_studies", "read_claims", "write_claims"]
