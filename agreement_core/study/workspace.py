"""A profile on one machine: what to run, where its data comes from, where results go."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data import get_dataset
from ..locations import Locations
from .layout import ResultsLayout
from .profiles import Profile, get_profile


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
