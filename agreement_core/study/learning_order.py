"""Hacohen et al.'s claims and the noise ceiling of learning order, for a profile.

:mod:`agreement_core.hacohen` computes; this module knows which of the profile's studies it
is computed from (every finished seed group of the CIFAR-10 main study, the first seed group
of each architecture family, LeNet-5 as the weaker family of claim 2, the CIFAR-10 statistics
tables) and where it is written (:attr:`ResultsLayout.hacohen_dir`): ``order/`` from the
record stores, ``synthetic/`` from the small MLP, boosting and text runs.
"""

from __future__ import annotations

from ..errors import StudyMissing
from ..records import RecordStore
from .runs import is_complete, study_statistics
from .workspace import Workspace

#: Claim 2's weaker family, when the profile trains it.
WEAKER_FAMILY = "lenet5_bn"


def order_stores(workspace: Workspace) -> dict[str, list]:
    """Family -> the record-store paths of its finished seed groups (the main architecture
    first, with all its groups; the other families with theirs)."""
    profile, layout = workspace.profile, workspace.layout
    stores = {}
    for arch in dict.fromkeys((profile.config("cifar10").arch, *profile.architectures)):
        config = profile.config("cifar10", arch=arch)
        configs = [config, *profile.seed_variants(config).values()]
        paths = [layout.study_dir(c) for c in configs if is_complete(layout.study_dir(c))]
        if paths:
            stores[arch] = paths
    return stores


def run_learning_order(workspace: Workspace, *, synthetic: bool = True, n_boot: int = 1000,
                       log=print) -> None:
    """Write the profile's learning-order analyses: ``order/`` (noise ceiling, explained
    order, claim 2; a few minutes) and, with ``synthetic``, ``synthetic/`` (claims 3-5 and
    the single-network scores; about 15 minutes on one core).

    Raises
    ------
    StudyMissing
        When the main study has fewer than two finished seed groups (no ceiling to measure).
    """
    from ..hacohen import run_hacohen, run_study_order

    stores = order_stores(workspace)
    family = workspace.profile.config("cifar10").arch
    if len(stores.get(family, [])) < 2:
        raise StudyMissing(f"profile {workspace.profile.name!r}: the noise ceiling needs two "
                           f"finished seed groups of the main study ({family}); run 'python -m "
                           f"agreement_core build --profile {workspace.profile.name}'")
    statistics = study_statistics(workspace, RecordStore.open(stores[family][0]), "cifar10")
    out = workspace.layout.hacohen_dir
    run_study_order(stores, statistics, out / "order", family=family,
                    weaker=WEAKER_FAMILY if WEAKER_FAMILY in stores else None, n_boot=n_boot,
                    log=log)
    if synthetic:
        run_hacohen(out / "synthetic", locations=workspace.locations, n_boot=n_boot, log=log)


__all__ = ["WEAKER_FAMILY", "order_stores", "run_learning_order"]
