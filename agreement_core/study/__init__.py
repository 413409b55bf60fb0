"""The study's orchestration: profiles, where results live, computing them, and figures.

Modules, bottom-up:

- :mod:`~agreement_core.study.layout`: where results live (:class:`ResultsLayout`,
  :func:`study_slug`); no other module builds a results path.
- :mod:`~agreement_core.study.profiles`: the named sets of studies (:data:`PROFILES`).
- :mod:`~agreement_core.study.workspace`: a profile with its
  :class:`~agreement_core.locations.Locations` (:class:`Workspace`).
- :mod:`~agreement_core.study.runs`: the study trainer (:func:`train_study`) and the
  computation of a workspace's results (training, statistics, dynamics, curriculum).
- :mod:`~agreement_core.study.figures`: what notebooks ask for (:func:`open_study`,
  :func:`notebook_session`, captions).
- :mod:`~agreement_core.study.claims`: the claims table of a profile, written and read;
  :mod:`~agreement_core.study.learning_order`: Hacohen et al.'s analyses of a profile;
  :mod:`~agreement_core.study.pages`: the book's texts computed at build time.
- :mod:`~agreement_core.study.launch`: grids of studies, locally or on Slurm.
- :mod:`~agreement_core.study.pipeline`: ``build`` (needs the ``book`` extra: papermill,
  jupyter-book), imported on its own.
"""

from ..errors import DatasetUnavailable, StudyMissing
from .figures import (
    JPEG_CAVEAT,
    NOTEBOOK_PARAMETERS,
    CurriculumResults,
    FigureSession,
    FigureStudy,
    Variants,
    dataset_label,
    load_statistics,
    notebook_session,
    open_study,
    study_caption,
)
from .layout import ResultsLayout, study_slug
from .profiles import PROFILES, Profile, get_profile
from .runs import (
    DATASET_SOURCES,
    covering_statistics,
    dataset_available,
    is_complete,
    load_study,
    require_dataset,
    study_statistics,
    train_study,
)
from .workspace import Workspace

__all__ = [
    "DATASET_SOURCES", "JPEG_CAVEAT", "NOTEBOOK_PARAMETERS", "PROFILES", "CurriculumResults",
    "DatasetUnavailable", "FigureSession", "FigureStudy", "Profile", "ResultsLayout",
    "StudyMissing", "Variants", "Workspace",
    "covering_statistics", "dataset_available", "dataset_label", "get_profile", "is_complete",
    "load_statistics", "load_study", "notebook_session", "open_study", "require_dataset",
    "study_caption", "study_slug", "study_statistics", "train_study",
]
