"""A profile on one machine: what to run, where its data comes from, where results go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..data import get_dataset
from ..locations import Locations
from .layout import ResultsLayout
from .profiles import PROFILES, Profile, get_profile


@dataclass(frozen=True)
class Workspace:
    """A :class:`~agreement_core.study.profiles.Profile` with its
    :class:`~agreement_core.locations.Locations`; every step of the build takes one."""

    profile: Profile
    locations: Locations = field(default_factory=Locations)

    @classmethod
    def open(cls, profile: str | Profile = "default",
             locations: Locations | None = None) -> Workspace:
        """The workspace of ``profile`` (a name or a Profile) at ``locations``."""
        if isinstance(profile, str):
            profile = get_profile(profile)
        return cls(profile, locations or Locations())

    @property
    def layout(self) -> ResultsLayout:
        return ResultsLayout(self.locations.results_root / self.profile.name)

    def dataset(self, name: str, split: str, subset=None):
        """Dataset ``name``'s ``split`` with ``subset``, from this machine's data locations."""
        return get_dataset(name, split, self.locations, subset=subset)

    def _shared(self, place: Callable[[ResultsLayout], Path], marker: str,
                same: Callable[[Profile], bool]) -> Path:
        """This profile's ``place``, else another registered profile's for which ``same``
        holds and ``place / marker`` exists (the same experiment, run once), else this
        profile's (where it will run)."""
        own = place(self.layout)
        if own.exists():
            return own
        for name, other in PROFILES.items():
            theirs = place(ResultsLayout(self.locations.results_root / name))
            if name != self.profile.name and same(other) and (theirs / marker).is_file():
                return theirs
        return own

    @property
    def own_loop_dir(self) -> Path:
        """The record store of the "Your own model and data" run: shared with another
        profile that has the same ``own_loop`` settings and has run it."""
        return self._shared(lambda layout: layout.own_loop_dir, "meta.json",
                            lambda other: other.own_loop == self.profile.own_loop)

    @property
    def pruning_dir(self) -> Path:
        """The pruning experiment: shared with another profile that has the same ``own_loop``
        and ``pruning`` settings and has results."""
        return self._shared(lambda layout: layout.pruning_dir, "results.csv",
                            lambda other: (other.own_loop, other.pruning)
                            == (self.profile.own_loop, self.profile.pruning))
