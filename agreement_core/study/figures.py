"""What a figure needs of the study: its records, statistics, images and a caption.

Every notebook starts with :func:`notebook_session` (its parameters, checked by name and
kind before any work, become one :class:`FigureSession`) and asks it for studies by role
(:meth:`FigureSession.study`). A notebook's own parameters (:data:`OWN_PARAMETERS`) are
named in its call: ``notebook_session(globals(), own=("n_boot",))``.
A missing dataset stops with :class:`~agreement_core.errors.DatasetUnavailable` (what is
missing and how to get it), a study without results with
:class:`~agreement_core.errors.StudyMissing` (the command that computes it); IPython shows
either as one message without a traceback.
"""

from __future__ import annotations

import ast
import difflib
import json
import reprlib
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import read_table
from ..data import dtd, voc
from ..errors import ConfigError, DatasetUnavailable, StudyMissing
from ..locations import Locations
from ..models import MODELS
from ..records import RecordStore
from ..report import easy_and_hard_examples, examples_across_learning_order
from ..specification import SPEC_BY_ID
from ..statistics import read_statistics_tables
from ..training import TrainConfig, load_dataset
from ..widgets import scrubber_data
from .claims import load_claims
from .own_loop import SGD_SETTINGS
from .profiles import PROFILES, get_profile
from .runs import dataset_source, is_complete, load_study, require_dataset, study_statistics
from .workspace import Workspace


def dataset_label(config: TrainConfig | dict, source: str | None = None) -> str:
    config = config.to_dict() if isinstance(config, TrainConfig) else config
    names = {"cifar10": "CIFAR-10", "imagenette": "Imagenette", "imagenet": "ImageNet",
             "voc": "Pascal VOC", "kth": "KTH-TIPS2-b", "dtd": "DTD"}
    if source in SOURCE_LABELS:
        return SOURCE_LABELS[source]
    return names.get(config["dataset"], config["dataset"])


def _subset_text(value) -> str:
    if value is None:
        return "all"
    return f"{value:.0%} per class" if isinstance(value, float) else f"{value} per class"


#: The caveat every CIFAR-10 mirror figure carries (../shared/datasets/README.md).
JPEG_CAVEAT = ("CIFAR-10 mirror: JPEG re-encodings of the original images (lossy; the train "
               "set is shifted by one pixel), so absolute statistics differ from the paper's.")

#: How a figure names a dataset read from the offline mirror, and what it must say about it.
SOURCE_LABELS = {"mirror-jpeg": "CIFAR-10 (offline JPEG mirror)",
                 "mirror-voc2012-subset": "Pascal VOC 2012 subset (offline mirror)",
                 "mirror-dtd10": "DTD, 10 classes (offline mirror)"}
SOURCE_CAVEATS = {"mirror-jpeg": JPEG_CAVEAT, "mirror-voc2012-subset": voc.MIRROR_CAVEAT,
                  "mirror-dtd10": dtd.MIRROR_CAVEAT}


#: Where the paper's datasets are bigger: training images of the paper's splits (CIFAR-10
#: train; VOC 2007 trainval 5,011 + VOC 2012 trainval 11,540; ILSVRC-2012 train).
PAPER_TRAIN_IMAGES = {"cifar10": 50_000, "voc": 16_551, "imagenet": 1_281_167}
#: The paper's study a role of ours stands in for (DTD for KTH-TIPS2-b).
PAPER_ROLES = {"dtd": "kth"}
#: Below this mean train accuracy at the last epoch, a verdict names underfitting as a reason.
UNDERFIT_ACCURACY = 0.9


def _caption_items(config: Mapping, store: RecordStore | None = None,
                   source: str | None = None) -> list[tuple[str, str, str]]:
    """What a caption says of one study, as (section, item, text) in reading order.

    From the store when there is one (example counts, networks and epochs recorded), else
    from the configuration alone (a study not trained on this machine). Sections are
    ``data``, ``training``, ``labels`` and ``images``; an item absent from a study is left out.
    """
    # Stores written outside TrainConfig (tests, other tools) may lack fields: leave them out.
    config = {"dataset": "unknown dataset", "arch": "unknown architecture", **config}
    subsets = ""
    if "train_subset" in config:
        subsets = (f", subset train {_subset_text(config['train_subset'])} / test "
                   f"{_subset_text(config.get('test_subset'))}")
    data = f"{dataset_label(config, source)}{subsets}"
    if store is not None:
        sizes = ", ".join(f"{split} {store.num_examples(split)} images"
                          for split in store.splits)
        data += f" ({sizes})"
        networks, total = store.num_networks, store.num_epochs
        # The epochs drawn: those all networks have recorded (common_epochs, agree's rule).
        drawn = min(store.available_epochs(split) for split in store.splits)
        epochs = (f"{total} epochs" if drawn >= total else
                  f"{drawn} of {total} epochs (the last all networks have recorded)")
    else:
        networks, epochs = config.get("num_networks"), f"{config.get('epochs')} epochs"
    items = [("data", "data", data), ("training", "networks", f"{networks} x {config['arch']}"),
             ("training", "epochs", epochs)]
    if "batch_size" in config:
        items.append(("training", "batch", f"batch {config['batch_size']}"))
    if "optimizer" in config:
        items.append(("training", "optimizer", f"{config['optimizer']} lr {config.get('lr')}"))
    if "recording" in config:
        items.append(("training", "recording", f"{config['recording']} recording"))
    if config.get("precision", "float32") != "float32":
        items.append(("training", "precision", f"{config['precision']} autocast"))
    if config.get("random_labels"):
        items.append(("labels", "labels", f"random labels (seed {config.get('label_seed', 0)})"))
    if config.get("image_size"):
        items.append(("images", "images", f"images resized to {config['image_size']}"
                      + (f", crop {config['crop']}" if config.get("crop") else "")))
    return items


#: What a caption says of a study that lacks an item others have (random labels, a resize).
_ITEM_ABSENT = {"labels": "true labels", "images": "original image size",
                "precision": "float32", "recording": "online recording"}


def _join_items(items: Iterable[tuple[str, str, str]]) -> str:
    """``data; training, ...; labels; images``: the sections of a caption."""
    sections: dict[str, list[str]] = {}
    for section, _, text in items:
        sections.setdefault(section, []).append(text)
    return "; ".join(", ".join(texts) for texts in sections.values())


def _with_caveat(text: str, source: str | None) -> str:
    return f"{text} {SOURCE_CAVEATS[source]}" if source in SOURCE_CAVEATS else text


def study_caption(store: RecordStore, source: str | None = None, varied: dict | None = None,
                  *, caveat: bool = True) -> str:
    """What a figure was computed from: dataset, subset, architecture, epochs, recording.

    ``source`` is the dataset's :attr:`~agreement_core.data.ImageDataset.source`;
    ``"mirror-jpeg"`` adds the JPEG caveat. ``varied`` maps config fields to the text shown
    instead (e.g. ``{"arch": "lenet5_bn / fastnet"}``); figures drawn from several stores
    take :func:`stores_caption`, which reads every store's own values. ``caveat`` False
    leaves the source's caveat out (a page that lists many studies says it once).
    """
    config = {**store.config, **(varied or {})}
    text = _join_items(_caption_items(config, store, source)) + "."
    return _with_caveat(text, source) if caveat else text


def config_caption(config: TrainConfig | Mapping, source: str | None = None) -> str:
    """What a study would be trained from (its configuration, no store): for a setup text
    of a study that has no results on this machine, or of the paper's protocol."""
    config = config.to_dict() if isinstance(config, TrainConfig) else dict(config)
    return _join_items(_caption_items(config, None, source)) + "."


def protocol_details(config: TrainConfig) -> str:
    """The optimizer settings and schedule a caption leaves out: ``"momentum 0.9, weight
    decay 0.0005, learning rate x 0.2 every 10 epochs"``."""
    items = []
    if config.optimizer == "sgd":
        items.append(f"momentum {config.momentum}")
    elif config.optimizer == "adam":
        items.append(f"betas {tuple(config.betas)}")
    items.append(f"weight decay {config.weight_decay:g}")
    schedules = {"cosine": f"cosine schedule down to {config.min_lr:g}",
                 "step": f"learning rate x {config.gamma:g} every {config.step_size} epochs",
                 "onecycle": "one-cycle schedule with the learning rate as its maximum"}
    items.append(schedules.get(config.schedule, f"{config.schedule} schedule"))
    return ", ".join(items)


def stores_caption(stores: Mapping[str, RecordStore], source: str | None = None) -> str:
    """The caption of a figure drawn from several stores (label -> store): what they share
    once, then, per label, every item in which the stores differ, each read from that
    store's own configuration and records (never the first store's for all).

    Parameters
    ----------
    stores : mapping of str to RecordStore
        Label (as the figure names its panel or line) -> store.
    source : str, optional
        The dataset's source, for its label and caveat (see :func:`study_caption`).

    Returns
    -------
    str
        E.g. ``"CIFAR-10 (...); batch 128, sgd lr 0.1. Per study: lenet5_bn: 5 x
        lenet5_bn, 15 epochs; densenet_bc_40: 5 x densenet_bc_40, 10 epochs."``
    """
    if not stores:
        raise ConfigError("no stores to caption")
    if len(stores) == 1:
        return study_caption(next(iter(stores.values())), source)
    per_store = {label: _caption_items(store.config, store, source)
                 for label, store in stores.items()}
    texts = {label: {item: text for _, item, text in items}
             for label, items in per_store.items()}
    order: dict[str, str] = {}  # item -> section, in reading order over all stores
    for items in per_store.values():
        for section, item, _ in items:
            order.setdefault(item, section)

    def text_of(label: str, item: str) -> str:
        return texts[label].get(item, _ITEM_ABSENT.get(item, f"no {item}"))

    first = next(iter(stores))
    shared = [item for item in order if len({text_of(label, item) for label in stores}) == 1]
    common = [(order[item], item, text_of(first, item)) for item in shared]
    varying = [item for item in order if item not in shared]
    text = _join_items(common) + "."
    if varying:
        # An item that only repeats its label ("batch 64: batch 64") is said once.
        differences = {label: [text_of(label, item) for item in varying
                               if text_of(label, item) != label] for label in stores}
        text += " Per study: " + "; ".join(
            ": ".join([label, ", ".join(found)]) if found else label
            for label, found in differences.items()) + "."
    return _with_caveat(text, source)


@dataclass
class FigureStudy:
    """What a figure needs of one study: its records, statistics and a caption."""

    role: str
    workspace: Workspace
    config: TrainConfig
    store: RecordStore
    statistics: dict[str, pd.DataFrame]
    source: str | None

    @property
    def caption(self) -> str:
        return study_caption(self.store, self.source)

    def caption_varying(self, **varied) -> str:
        """The caption with the given fields replaced by the values the panels vary over."""
        return study_caption(self.store, self.source,
                             {k: " / ".join(map(str, v)) for k, v in varied.items()})

    def dataset(self, split: str):
        """The split's dataset with the study's subset, in the store's example order."""
        data = load_dataset(self.config, split, self.workspace.locations)
        if not (data.example_ids == self.store.example_ids(split)).all():
            raise StudyMissing(f"the {split} examples on this machine differ from the study's "
                               f"records ({self.store.path})")
        return data

    def easy_and_hard_images(self, split: str = "train") -> dict[str, np.ndarray]:
        """The images of an easy and a hard example of ``split`` (Figs. 3, 10, 11).

        Parameters
        ----------
        split : str

        Returns
        -------
        dict of str to ndarray
            Title (``"easy: agreed from epoch 1"``, ``"hard: never agreed"``; see
            :func:`~agreement_core.report.easy_and_hard_examples`) -> the uint8 RGB image.
        """
        data = self.dataset(split)
        picks = easy_and_hard_examples(self.store, split)
        return {title: np.asarray(data.load_image(row)) for title, row in picks.items()}

    def learning_order_strip(self, split: str = "train", count: int = 6, seed: int = 0
                             ) -> dict[int, tuple[str, np.ndarray]]:
        """Fig. 1's examples: ``count`` images spread over the learning order of ``split``
        (:func:`~agreement_core.report.examples_across_learning_order`).

        Returns
        -------
        dict of int to (str, ndarray)
            Row -> (the class name, the uint8 RGB image), earliest agreed first.
        """
        data = self.dataset(split)
        rows = examples_across_learning_order(self.store, split, count, seed)
        out = {}
        for row in rows:
            target = np.asarray(data.targets[row])
            label = (", ".join(c for c, on in zip(data.classes, target, strict=True) if on)
                     if target.ndim else data.classes[int(target)])
            out[row] = (label, np.asarray(data.load_image(row)))
        return out

    def scrubber(self, split: str, thumbnail: int = 32):
        """The epoch scrubber's data of ``split``, with thumbnails and the study's caption.

        Parameters
        ----------
        split : str
        thumbnail : int
            Side of the square thumbnails, in pixels.

        Returns
        -------
        agreement_core.widgets.ScrubberData
        """
        data = self.dataset(split)
        images = data.load_array(size=(thumbnail, thumbnail))
        return scrubber_data(self.store, split, images, self.statistics.get(split),
                             caption=self.caption, class_names=data.classes)


class Variants(dict):
    """The study of one role once per value of one TrainConfig field (value -> study).

    What :meth:`FigureSession.variants` returns: a dict, with the field's name and what
    the ablation figures need of all the studies together.
    """

    def __init__(self, field: str, studies: Mapping, linked: Iterable[str] = ()):
        super().__init__(studies)
        self.field = field
        #: Further TrainConfig fields that change with ``field`` (e.g. ``lr`` scaled with
        #: the batch size), shown in the caption as their values too.
        self.linked = tuple(linked)

    def stores(self, label: str = "{}") -> dict[str, RecordStore]:
        """The studies' record stores.

        Parameters
        ----------
        label : str
            Formatted with each value to give its key (e.g. ``"batch {}"``).

        Returns
        -------
        dict of str to RecordStore
        """
        return {label.format(value): study.store for value, study in self.items()}

    def with_studies(self, studies: Mapping[str, FigureStudy]) -> Variants:
        """These variants and further studies drawn beside them (label -> study), e.g.
        ``{"random labels": session.study("cifar10-random-labels")}``, as one group whose
        caption names every study's own setup."""
        return Variants(self.field, {**self, **studies}, self.linked)

    def caption_varying(self, label: str = "{}") -> str:
        """The caption of all the studies: what they share once, then, per study, what
        differs (its value of the field and anything else, e.g. a smaller number of epochs),
        read from each study's own store (:func:`stores_caption`).

        Parameters
        ----------
        label : str
            Formatted with each value to name its study, as in :meth:`stores`.

        Returns
        -------
        str
        """
        if not self:
            raise ConfigError(f"no values of {self.field} to caption")
        first = next(iter(self.values()))
        return stores_caption(self.stores(label), first.source)


@dataclass
class CurriculumResults:
    """The curriculum experiment's results (:meth:`FigureSession.curriculum`).

    Attributes
    ----------
    curves : pandas.DataFrame
        Test accuracy per mode, network and evaluation step (``curves.parquet``).
    summary : pandas.DataFrame
        One row per mode (``summary.csv``).
    caption : str
        The settings and the CIFAR-10 study whose agreement ordered the examples.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    caption: str


def open_study(role: str, profile: str = "default", *, locations: Locations | None = None,
               train_missing: bool = False, subset=None, **overrides) -> FigureStudy:
    """The study behind a figure: ``profile``'s ``role`` with ``overrides`` (None: unchanged).

    Raises :class:`DatasetUnavailable` when the dataset is not on this machine and
    :class:`StudyMissing` when the study has no results and ``train_missing`` is
    false. ``subset`` overrides the train subset; other keywords are
    :class:`~agreement_core.training.TrainConfig` fields (``arch``,
    ``num_networks``, ``epochs``, ``batch_size``, ...).
    """
    workspace = Workspace.open(profile, locations)
    config = workspace.profile.config(role, train_subset=subset, **overrides)
    source = require_dataset(config.dataset, workspace.locations)
    store = load_study(config, workspace, train=train_missing)
    return FigureStudy(role=role, workspace=workspace, config=config, store=store,
                       statistics=study_statistics(workspace, store, config.dataset),
                       source=source)


def load_statistics(dataset: str, profile: str = "default", *,
                    locations: Locations | None = None,
                    splits=("train", "test")) -> dict[str, pd.DataFrame]:
    """The profile's statistics tables of ``dataset`` (split -> table), as computed by ``build``.

    Raises :class:`StudyMissing` when a split's table has not been computed.
    """
    workspace = Workspace.open(profile, locations)
    directory = workspace.layout.statistics_dir
    tables = read_statistics_tables(directory, dataset, splits)
    missing = [s for s in splits if s not in tables]
    if missing:
        raise StudyMissing(f"no {dataset} statistics for {missing} under {directory}; run "
                           f"'python -m agreement_core build --profile {profile}'")
    return tables


def _text(value) -> bool:
    return isinstance(value, str)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _flag(value) -> bool:
    return isinstance(value, bool)


def _subset(value) -> bool:
    return _count(value) or (isinstance(value, float) and 0 < value <= 1)


def _directory(value) -> bool:
    # A path that must exist: a mistyped data root would otherwise be created and filled
    # with extracted datasets, a mistyped results root read as "nothing computed".
    return isinstance(value, str) and bool(value) and Path(value).expanduser().is_dir()


def _architecture(value) -> bool:
    return isinstance(value, str) and value in MODELS


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: (isinstance(value, (list, tuple)) and len(value) > 0
                          and all(check(v) for v in value))


#: Every notebook parameter: name -> (what it accepts, its check). The standard ones are
#: in every notebook's ``parameters`` cell; the others only in the notebooks that name them
#: in ``notebook_session(globals(), own=(...))``.
_PARAMETERS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "profile": (f"a profile name ({', '.join(map(repr, list(PROFILES)[:-1]))} or "
                f"{list(PROFILES)[-1]!r}; the book's is 'full')",
                lambda value: isinstance(value, str) and value in PROFILES),
    "results_dir": ("an existing results root directory, or None", _optional(_directory)),
    "data_root": ("an existing dataset root directory, or None", _optional(_directory)),
    "mirror": ("an existing offline mirror directory, or None", _optional(_directory)),
    "arch": (f"an architecture of the model registry ({', '.join(sorted(MODELS))}), or None",
             _optional(_architecture)),
    "num_networks": ("a number of networks K >= 1, or None", _optional(_count)),
    "epochs": ("a number of epochs >= 1, or None", _optional(_count)),
    "subset": ("train images per class (int) or a fraction in (0, 1], or None",
               _optional(_subset)),
    "train_missing": ("True or False", _optional(_flag)),
    # Own parameters of some notebooks.
    "n_boot": ("a number of bootstrap resamples >= 1", _count),
    "batch_sizes": ("a list of batch sizes >= 1, or None", _optional(_list_of(_count))),
    "architectures": (f"a list of architectures of the model registry "
                      f"({', '.join(sorted(MODELS))}), or None",
                      _optional(_list_of(_architecture))),
    "live": ("True or False", _flag),
    "thumbnail": ("a thumbnail side in pixels >= 1", _count),
}
_STANDARD = ("profile", "results_dir", "data_root", "mirror", "arch", "num_networks", "epochs",
             "subset", "train_missing")

#: The parameters every notebook's ``parameters`` cell defines, with what each accepts.
NOTEBOOK_PARAMETERS = {name: _PARAMETERS[name][0] for name in _STANDARD}

#: The parameters a notebook may add to the standard ones (naming them in ``own=``), with
#: what each accepts.
OWN_PARAMETERS = {name: accepts for name, (accepts, _) in _PARAMETERS.items()
                  if name not in NOTEBOOK_PARAMETERS}


def _literal_assignments(source: str) -> set[str]:
    """The names a cell of only ``name = literal`` lines assigns; empty for any other cell.

    Such cells are the ``parameters`` cell and papermill's injected one; the notebooks'
    other cells assign call results (tests/test_notebooks.py).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for statement in tree.body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            return set()
        try:
            ast.literal_eval(statement.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return set()
        names.add(statement.targets[0].id)
    return names


def given_parameters(namespace: Mapping) -> set[str]:
    """The names a notebook's caller set, which must all be parameters the notebook takes.

    In an IPython kernel (the namespace holds its input history ``In``): the names assigned
    by the cells run so far that hold only ``name = literal`` lines, i.e. the ``parameters``
    cell and papermill's injected cell, still defined. Imports, IPython's own names and the
    results of later cells (a rerun of the setup cell in a live kernel) are not among them.
    Elsewhere (a mapping of parameters, a script's globals): every public name that is not a
    module, class or function.
    """
    history = namespace.get("In")
    if isinstance(history, list) and all(isinstance(cell, str) for cell in history):
        names = set().union(*map(_literal_assignments, history))
        return {name for name in names if name in namespace}
    return {name for name, value in namespace.items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
            and not callable(value)}


def select_claims(table: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    """The rows of a claims table that ``names`` select: a specification id selects that
    claim's rows, any other name the rows whose ``claim_id`` is or starts with it
    (``name + "-"``); every name must be, or extend, or begin an id of the claim specification,
    and together they must match at least one row."""
    names = list(names)
    for name in names:
        if not any(name == s or name.startswith(s + "-") or s.startswith(name + "-")
                   for s in SPEC_BY_ID):
            raise ConfigError(f"{name!r} is not a claim of the specification "
                              "(agreement_core/specification.py); known: "
                              f"{', '.join(SPEC_BY_ID)}")
    def shown(claim_id: str, spec_id: str) -> bool:
        # A specification id names that claim's rows only ("voc-entropy" is not
        # "voc-entropy-test"); any other name is a prefix ("hist", "agreement-datasets-voc").
        return any(spec_id == name if name in SPEC_BY_ID
                   else claim_id == name or claim_id.startswith(name + "-") for name in names)

    chosen = table[[shown(i, s) for i, s in zip(table["claim_id"], table["spec_id"],
                                                strict=True)]]
    if chosen.empty:
        raise ConfigError(f"no row of the claims table matches {names}")
    return chosen


@dataclass
class FigureSession:
    """A notebook's parameters as one object: the workspace, the study overrides, and
    whether missing studies are trained here."""

    workspace: Workspace
    overrides: dict = field(default_factory=dict)
    train_missing: bool = False
    unavailable: dict = field(default_factory=dict)

    @property
    def profile(self):
        return self.workspace.profile

    def study(self, role: str, **overrides) -> FigureStudy:
        """The study of ``role`` with the session's overrides, then ``overrides``."""
        fields = {**self.overrides, **{k: v for k, v in overrides.items() if v is not None}}
        subset = fields.pop("subset", None)
        return open_study(role, self.workspace.profile.name,
                          locations=self.workspace.locations, train_missing=self.train_missing,
                          subset=subset, **fields)

    def studies(self, roles: Iterable[str], *, skip_unavailable: bool = False
                ) -> dict[str, FigureStudy]:
        """The studies of several roles (role -> study).

        With ``skip_unavailable``, roles whose dataset is not on this machine, or whose study
        has no results yet, are left out and their reasons kept in :attr:`unavailable`
        (role -> message).
        """
        found = {}
        for role in roles:
            try:
                found[role] = self.study(role)
            except (DatasetUnavailable, StudyMissing) as error:
                if not skip_unavailable:
                    raise
                self.unavailable[role] = str(error)
        return found

    def variants(self, role: str, name: str, values: Iterable | None = None) -> Variants:
        """The study of ``role`` once per value of the TrainConfig field ``name``
        (value -> study): the ablations of Figs. 8 and 9.

        Parameters
        ----------
        role : str
        name : str
            A TrainConfig field.
        values : iterable, optional
            None: the profile's ablation of ``name`` (``arch``: its architectures,
            ``batch_size``: its batch sizes).

        Returns
        -------
        Variants
        """
        if values is None:
            ablations = {"arch": self.profile.architectures,
                         "batch_size": self.profile.batch_sizes}
            if name not in ablations:
                raise ConfigError(f"profile {self.profile.name!r} has no ablation of {name}; "
                                  f"give the values")
            values = ablations[name]
        # The variants set this field: an override of it would be silently dropped.
        self._refuse_overrides(f"the studies of {name} = {list(values)}", ignored=(name,))
        return Variants(name, {value: self.study(role, **{name: value}) for value in values})

    def scaled_lr_variants(self, role: str = "cifar10",
                           batch_sizes: Iterable[int] | None = None) -> Variants:
        """The batch-size ablation with the learning rate scaled linearly with the batch size
        (batch size -> study), the role's own batch size and learning rate among them.

        Beside :meth:`variants` ``("batch_size")`` at a fixed learning rate, this separates the
        batch size from the number of steps: a batch of ``b`` takes ``lr * b / batch`` (the
        ``full`` profile: 0.05 at 64, 0.1 at 128, 0.4 at 512).

        Parameters
        ----------
        role : str
        batch_sizes : iterable of int, optional
            None: the profile's ``scaled_lr_batch_sizes``.

        Returns
        -------
        Variants
            With ``lr`` linked to the batch size in the caption.

        Raises
        ------
        StudyMissing
            When the profile trains no batch size with a scaled learning rate and none is
            given.
        """
        sizes = tuple(self.profile.scaled_lr_batch_sizes if batch_sizes is None
                      else batch_sizes)
        if not sizes:
            raise StudyMissing(f"profile {self.profile.name!r} trains no batch sizes with a "
                               f"scaled learning rate; profile 'full' does (-p profile full)")
        values = sorted({*sizes, self.profile.config(role).batch_size})
        return Variants("batch_size", {
            size: self.study(role, batch_size=size, lr=self.profile.scaled_lr(size, role))
            for size in values}, linked=("lr",))

    def difficulty_images(self, dataset: str = "voc", split: str = "train",
                          columns=("entropy", "segments", "dct_share", "crisp_edges")
                          ) -> dict[str, np.ndarray]:
        """The easiest and the hardest image of ``split`` by Ionescu et al.'s visual-search
        difficulty score (Fig. 3), titled with the score and the image's statistics.

        Parameters
        ----------
        dataset : str
            A dataset with difficulty scores (``vsd_scores()``: Pascal VOC).
        split : str
        columns : sequence of str
            Statistics printed in the titles, read from the profile's statistics table
            (those it lacks are left out).

        Returns
        -------
        dict of str to ndarray
            Title -> the uint8 RGB image, easiest first.
        """
        require_dataset(dataset, self.workspace.locations)
        data = self.workspace.dataset(dataset, split)
        scores = data.vsd_scores()
        picks = {"easiest": int(np.nanargmin(scores)), "hardest": int(np.nanargmax(scores))}
        try:
            table = self.statistics(dataset, splits=(split,))[split].set_index("example_id")
        except StudyMissing:
            table = pd.DataFrame()
        images = {}
        for name, row in picks.items():
            example = int(data.example_ids[row])
            values = [f"{c} {table.at[example, c]:.4g}" for c in columns
                      if c in table.columns and example in table.index]
            title = "\n".join([f"{name}: difficulty {scores[row]:.2f}", *values])
            images[title] = np.asarray(data.load_image(row))
        return images

    def _refuse_overrides(self, shows: str, ignored=("arch", "num_networks", "epochs",
                                                     "subset")) -> None:
        """A notebook that shows ``shows`` uses none of the study overrides ``ignored``:
        one given is a mistake (it would be silently ignored), stopped with one line."""
        given = [name for name in ignored if name in self.overrides]
        if given:
            name = given[0]
            raise ConfigError(f"notebook parameter {name} = {self.overrides[name]!r} is not "
                              f"used by this notebook: it shows {shows}; leave it None")

    def claims(self, n_boot: int = 200) -> pd.DataFrame:
        """The profile's claims table (:func:`~agreement_core.study.claims.load_claims`),
        the same whatever study overrides are given: a notebook showing it takes none."""
        self._refuse_overrides(f"the claims table of profile {self.profile.name!r}")
        return load_claims(self.workspace, n_boot=n_boot)

    def hacohen(self) -> dict[str, pd.DataFrame]:
        """The tables of Hacohen et al.'s analyses (noise ceiling, explained order, nested
        agreed sets; synthetic and text runs, boosting) by name, as
        :func:`~agreement_core.study.learning_order.run_learning_order` wrote them.

        Raises
        ------
        StudyMissing
            When they have not been computed for this profile.
        """
        self._refuse_overrides(f"Hacohen et al.'s analyses of profile {self.profile.name!r}")
        paths = self.workspace.layout.hacohen_tables()
        if not paths:
            raise StudyMissing(f"no learning-order analyses in <results>/{self.profile.name}/"
                               f"hacohen yet; run 'python -m agreement_core learning-order "
                               f"--profile {self.profile.name}' (about 20 minutes on one CPU "
                               "core)")
        return {name: read_table(path) for name, path in paths.items()}

    def own_loop(self) -> RecordStore:
        """The record store of the "Your own model and data" run (``build`` computes it with
        :func:`~agreement_core.study.own_loop.run_own_loop`).

        Raises
        ------
        StudyMissing
            When the run has not been made for this profile.
        """
        self._refuse_overrides(f"the own-loop run of profile {self.profile.name!r}")
        path = self.workspace.own_loop_dir
        if not is_complete(path):
            raise StudyMissing(f"no finished own-loop run in <results>/{self.profile.name}/"
                               f"own_loop; run 'python -m agreement_core build --profile "
                               f"{self.profile.name}'")
        return RecordStore.open(path)

    def pruning(self) -> pd.DataFrame:
        """The pruning experiment's results (``python -m agreement_core prune``): one row
        per run and network.

        Raises
        ------
        StudyMissing
            When the experiment has not been run for this profile.
        """
        self._refuse_overrides(f"the pruning experiment of profile {self.profile.name!r}")
        path = self.workspace.pruning_dir / "results.csv"
        if not path.is_file():
            raise StudyMissing(f"no pruning results in <results>/{self.profile.name}/pruning "
                               f"yet; run 'python -m agreement_core prune --profile "
                               f"{self.profile.name}' (about 15 minutes on a 2-core CPU)")
        return read_table(path)

    def pruning_full_data(self) -> np.ndarray:
        """Test accuracy at the last epoch of each network of the own-loop run, the whole
        training set the pruning experiment keeps fractions of (same training settings)."""
        store = self.own_loop()
        return store.last_correct("test").mean(axis=1)

    def pruning_caption(self) -> str:
        """What the pruning experiment was computed from."""
        # What was run (results.csv), not what the profile asks for now.
        results = self.pruning()
        networks = results.groupby(["score", "rule", "fraction"])["network"].nunique()
        counts = sorted(set(networks))
        fractions = ", ".join(f"{f:.0%}" for f in sorted(results["fraction"].unique()))
        return (f"Scores from the own-loop run ({self.own_loop_caption()}) Kept fractions "
                f"{fractions}; each kept subset: {' to '.join(map(str, counts))} fresh "
                "networks with the same training settings; test accuracy at the last epoch on "
                "the same test images. Black square: the scoring run's own networks, trained "
                "on every training image.")

    def own_loop_caption(self) -> str:
        """What the own-loop run was computed from (its store's configuration)."""
        store = self.own_loop()
        config = store.config
        sizes = ", ".join(f"{split} {store.num_examples(split):,} images"
                          for split in store.splits)
        return (f"CIFAR-10 as a torchvision dataset, every {self.profile.own_loop['every']}th "
                f"image ({sizes}); {store.num_networks} x {config.get('arch')}, "
                f"{store.num_epochs} epochs, SGD lr {config.get('lr')} (momentum "
                f"{SGD_SETTINGS['momentum']}, weight decay {SGD_SETTINGS['weight_decay']:g}), "
                f"batch {config.get('batch_size')}; recorded per batch by "
                f"agreement_core.recorder.Recorder from the plain loop of "
                f"agreement_core.study.own_loop (keep={store.keep!r}).")

    def setup(self, *roles: str, archs: Iterable[str] | None = None):
        """The setup of the studies of ``roles`` beside the paper's protocol for the same role,
        as Markdown: every number (networks, epochs, batch, learning rate, image size,
        examples) read from the study's store, or from the profile's configuration where the
        study has no results on this machine, and the paper's from profile ``paper``.

        ``roles`` may carry an architecture after a colon (``"voc:resnet50"``); with
        ``archs`` (the ablation of Fig. 9), every role is shown once per architecture and
        the paper's protocol once, with the paper's architectures.
        """
        from IPython.display import Markdown

        paper = get_profile("paper")
        lines = []
        if archs is not None:
            for role in roles:
                for arch in archs:
                    lines.extend(self._setup_lines(f"{role}:{arch}", paper)[:1])
                theirs = paper.config(PAPER_ROLES.get(role, role)).to_dict()
                protocol = {**theirs, "arch": " / ".join(paper.architectures)}
                lines.append(f"- **The paper** (profile `paper`): "
                             f"{config_caption(protocol)[:-1]}; "
                             f"{protocol_details(paper.config(role))}.")
            return Markdown("\n".join(lines))
        for role in roles:
            lines.extend(self._setup_lines(role, paper))
        return Markdown("\n".join(lines))

    def _setup_lines(self, role: str, paper) -> list[str]:
        """:meth:`setup`'s two lines of one role: ours, then the paper's."""
        name, _, arch = role.partition(":")
        fields = {**self.overrides, **({"arch": arch} if arch else {})}
        subset = fields.pop("subset", None)
        ours = self.profile.config(name, train_subset=subset, **fields)  # as study() does
        theirs = paper.config(PAPER_ROLES.get(name, name), arch=arch or None)
        source = dataset_source(ours.dataset, self.workspace.locations)
        path = self.workspace.layout.study_dir(ours)
        if is_complete(path):  # the page's verdict box carries the source's caveat
            here = study_caption(RecordStore.open(path), source, caveat=False)
        else:
            here = "not trained on this machine; the profile trains " + config_caption(
                ours, source)
        return [f"- **Here** (profile `{self.profile.name}`, {role.replace(':', ' ')}): "
                f"{here[:-1]}; {protocol_details(ours)}.",
                f"- **The paper** (profile `paper`): {config_caption(theirs)[:-1]}; "
                f"{protocol_details(theirs)}."]

    def conclusion(self, *claims: str):
        """The page's conclusion from the claims it shows (the names its :meth:`verdict`
        takes): :func:`~agreement_core.findings.claims_conclusion`, as Markdown."""
        from IPython.display import Markdown

        from ..findings import claims_conclusion

        table = load_claims(self.workspace, n_boot=200)
        return Markdown(claims_conclusion(select_claims(table, claims)))

    def claim_statement(self, claim_id: str):
        """What the paper says and what we find for one row of the claims table
        (:func:`~agreement_core.findings.claim_statement`), as Markdown."""
        from IPython.display import Markdown

        from ..findings import claim_statement

        return Markdown(claim_statement(load_claims(self.workspace, n_boot=200), claim_id))

    def statistics_caption(self, tables: Mapping[str, pd.DataFrame]) -> str:
        """What the statistics tables ``tables`` (``"<dataset> <split>"`` -> table) cover,
        with the number of examples the profile's study of the dataset records where the
        table holds more (Imagenette's statistics cover 260 images per class of both
        splits; its study tests on fewer)."""
        recorded = {}
        for config in self.profile.configs().values():
            path = self.workspace.layout.study_dir(config)
            if config.dataset not in recorded and is_complete(path):
                recorded[config.dataset] = RecordStore.open(path)
        parts = []
        for name, table in tables.items():
            dataset, _, split = name.partition(" ")
            text = f"{name} ({len(table):,} images"
            store = recorded.get(dataset)
            if store is not None and split in store.splits \
                    and store.num_examples(split) != len(table):
                text += (f"; the {dataset} study records {store.num_examples(split):,} of "
                         f"its {split} images")
            parts.append(text + ")")
        return (f"Statistics tables of profile {self.profile.name}: " + ", ".join(parts)
                + ".")

    def setup_differences(self, *roles: str, archs: Iterable[str] | None = None) -> list[str]:
        """How the studies of ``roles`` differ from the paper's protocol for the same role
        (profile ``paper``): stand-in dataset, number of training images, network, epochs,
        input size, and the caveat of the dataset's source (e.g. the JPEG mirror).

        ``roles`` may carry an architecture after a colon (``"cifar10:lenet5_bn"``); with
        ``archs``, every role is taken once per architecture (the ablation of Fig. 9).
        """
        paper = get_profile("paper")
        if archs is not None:
            roles = tuple(f"{role}:{arch}" for role in roles for arch in archs)
        out = []
        for role in roles:
            name, _, arch = role.partition(":")
            fields = {**self.overrides, **({"arch": arch} if arch else {})}
            subset = fields.pop("subset", None)
            ours = self.profile.config(name, train_subset=subset, **fields)  # as study() does
            theirs = paper.config(PAPER_ROLES.get(name, name), arch=arch or None)
            items = []
            if ours.dataset != theirs.dataset:
                items.append(f"{dataset_label(ours)} stands in for {dataset_label(theirs)}")
            path = self.workspace.layout.study_dir(ours)
            full = PAPER_TRAIN_IMAGES.get(theirs.dataset)
            if is_complete(path):
                store = RecordStore.open(path)
                count = store.num_examples("train")
                if full and count < full:
                    items.append(f"{count:,} training images (the paper: {full:,})")
                # Networks that fit little of their training set agree on few examples, which
                # weakens every correlation with the agreed-from epoch.
                correct = store.last_correct("train")
                if correct.mean() < UNDERFIT_ACCURACY:
                    items.append(f"mean train accuracy {correct.mean():.1%} at the last epoch, "
                                 f"all networks right on {int(correct.all(axis=0).sum()):,} of "
                                 f"{count:,} train images")
            for field_name, what in (("arch", "network"), ("epochs", "epochs"),
                                     ("num_networks", "networks"), ("crop", "input crop")):
                mine, paper_value = getattr(ours, field_name), getattr(theirs, field_name)
                if mine != paper_value:
                    items.append(f"{what} {mine} (the paper: {paper_value})")
            if items:
                out.append(f"{role.replace(':', ' ')}: " + "; ".join(items))
            try:
                caveat = self.workspace.dataset(ours.dataset, "train").caveat
            except DatasetUnavailable:
                caveat = None
            if caveat and caveat not in out:
                out.append(caveat)
        return out

    def verdict(self, *claims: str, roles: Iterable[str] = ("cifar10",),
                archs: Iterable[str] | None = None):
        """The figure page's verdict: the rows of the claims table whose ids are or start
        with one of ``claims`` (e.g. ``"arch"``, ``"voc-vsd_score"``), each with the paper's
        sentence, our number and its verdict, and how the studies of ``roles`` differ from
        the paper's (:meth:`setup_differences`, with ``archs``). Shown as HTML in a notebook.

        Every name must belong to an entry of the claim specification
        (:data:`agreement_core.specification.SPECIFICATION`): a page cannot show a claim that
        is not specified.
        """
        from IPython.display import HTML

        from .. import plots

        table = load_claims(self.workspace, n_boot=200)  # a figure's overrides leave it as is
        return HTML(plots.verdict_box(select_claims(table, claims),
                                      self.setup_differences(*roles, archs=archs)))

    def statistics(self, dataset: str, splits=("train", "test")) -> dict[str, pd.DataFrame]:
        """The profile's statistics tables of ``dataset`` (see :func:`load_statistics`)."""
        return load_statistics(dataset, self.workspace.profile.name,
                               locations=self.workspace.locations, splits=splits)

    def statistics_tables(self, datasets: Iterable[str] | None = None,
                          splits=("train", "test")) -> dict[str, pd.DataFrame]:
        """The statistics tables of several datasets, skipping those not computed here.

        Parameters
        ----------
        datasets : iterable of str, optional
            Default: every dataset of the profile's statistics.
        splits : sequence of str

        Returns
        -------
        dict of str to DataFrame
            ``"<dataset> <split>"`` -> table. Datasets without their tables are left out
            and kept in :attr:`unavailable` as ``"not computed on this machine"``.
        """
        tables = {}
        for dataset in self.profile.statistics if datasets is None else datasets:
            try:
                found = self.statistics(dataset, splits)
            except StudyMissing:
                self.unavailable[dataset] = "not computed on this machine"
                continue
            tables.update({f"{dataset} {split}": table for split, table in found.items()})
        return tables

    def scrubbers(self, views: Iterable[tuple[str, str]], thumbnail: int = 32) -> dict:
        """The epoch scrubbers' data of several (role, split) views.

        Parameters
        ----------
        views : iterable of (str, str)
            (role, split) pairs, e.g. ``[("cifar10", "train"), ("imagenet", "train")]``.
        thumbnail : int
            Side of the square thumbnails, in pixels.

        Returns
        -------
        dict of str to agreement_core.widgets.ScrubberData
            ``"<dataset> <split>"`` (e.g. ``"imagenette train"``) -> data, in the views'
            order (see :meth:`FigureStudy.scrubber`).
        """
        studies, found = {}, {}
        for role, split in views:
            if role not in studies:
                studies[role] = self.study(role)
            study = studies[role]
            found[f"{study.config.dataset} {split}"] = study.scrubber(split, thumbnail)
        return found

    def curriculum(self) -> CurriculumResults:
        """The curriculum experiment's results (``build`` computes them).

        Returns
        -------
        CurriculumResults
            The learning curves (one row per mode, network and evaluation), the summary
            (one row per mode) and a caption naming the settings and the CIFAR-10 study
            whose agreement ordered the examples.

        Raises
        ------
        StudyMissing
            When the experiment has not been run for this profile.
        """
        layout = self.workspace.layout
        curves, summary = layout.curriculum_curves_path, layout.curriculum_summary_path
        if not (curves.is_file() and summary.is_file()):
            raise StudyMissing(f"no curriculum results under {layout.curriculum_dir}; run "
                               f"'python -m "
                               f"agreement_core build --profile {self.profile.name}'")
        settings = self.profile.curriculum
        base = self.study("cifar10")
        summary_table = read_table(summary)
        # Each mode's training as its run recorded it (settings.json), not as the profile
        # says it now.
        trained = {mode: json.loads((layout.curriculum_dir / mode / "settings.json").read_text()
                                    )["config"]
                   for mode in summary_table["mode"]
                   if (layout.curriculum_dir / mode / "settings.json").is_file()}
        texts = {mode: config_caption({k: v for k, v in config.items() if k != "seed"},
                                      base.source)
                 for mode, config in trained.items()}
        if len(set(texts.values())) == 1:
            runs = f"Every mode (its epochs are the budget): {next(iter(texts.values()))}"
        elif texts:
            runs = " ".join(f"{mode}: {text}" for mode, text in texts.items())
        else:  # results written before the runs kept their settings
            runs = (f"{settings['num_networks']} networks per mode, {settings['train_subset']} "
                    f"training images per class, {settings['epochs']} epochs of budget.")
        caption = f"{runs} Scores from the study: {base.caption}"
        return CurriculumResults(read_table(curves), summary_table, caption)


def notebook_session(namespace: Mapping, own: Iterable[str] = ()) -> FigureSession:
    """Turn a notebook's parameters (its namespace, e.g. ``globals()``) into a session.

    Parameters
    ----------
    namespace : mapping
        The notebook's ``globals()``, or a mapping of parameter name -> value.
    own : iterable of str
        The notebook's parameters beyond :data:`NOTEBOOK_PARAMETERS`, each one of
        :data:`OWN_PARAMETERS` (e.g. ``("n_boot",)``); checked like the standard ones.

    Returns
    -------
    FigureSession

    Raises
    ------
    ConfigError
        Before any work: for a parameter of the wrong kind (naming it and what it accepts),
        and for a name the caller set that the notebook does not take (a typo such as
        ``papermill -p epoch 3``, which papermill itself only warns about); see
        :func:`given_parameters` for which names count as set. IPython shows it as one line.
    """
    own = tuple(own)
    undeclared = [name for name in own if name not in OWN_PARAMETERS]
    if undeclared:
        raise ConfigError(f"notebook_session(own=...): {undeclared} are not declared; "
                          f"declared: {', '.join(OWN_PARAMETERS)}")
    takes = [*NOTEBOOK_PARAMETERS, *own]
    unknown = sorted(given_parameters(namespace) - set(takes))
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, takes, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"unknown notebook parameter {name} = {reprlib.repr(namespace[name])}"
                          f"{hint}; this notebook takes: {', '.join(takes)}")
    for name in takes:
        accepts, check = _PARAMETERS[name]
        if name in namespace and not check(namespace[name]):
            raise ConfigError(f"notebook parameter {name} = {reprlib.repr(namespace[name])}: "
                              f"expected {accepts}")
    values = {name: namespace.get(name) for name in NOTEBOOK_PARAMETERS}
    locations = Locations(data_root=values["data_root"], mirror=values["mirror"],
                          results=values["results_dir"])
    overrides = {name: values[name] for name in ("arch", "num_networks", "epochs", "subset")
                 if values[name] is not None}
    # A mapping without "profile" (a script, a test) means the default profile; a notebook's
    # parameters cell always sets it, and None or "" there is refused above.
    profile = values["profile"] if "profile" in namespace else "default"
    session = FigureSession(Workspace.open(profile, locations), overrides,
                            bool(values["train_missing"]))
    if "arch" in overrides and not session.train_missing:
        # An architecture no study of the profile trains has no results to show.
        trained = sorted({c.arch for c in session.profile.configs().values()})
        if overrides["arch"] not in trained:
            raise ConfigError(f"notebook parameter arch = {overrides['arch']!r}: profile "
                              f"{profile!r} trains no study of it (its studies: "
                              f"{', '.join(trained)}); pass -p train_missing True to train it "
                              f"here")
    return session


__all__ = ["CurriculumResults", "FigureSession", "FigureStudy", "JPEG_CAVEAT",
           "NOTEBOOK_PARAMETERS", "OWN_PARAMETERS", "Variants", "config_caption",
           "dataset_label", "given_parameters", "load_statistics", "notebook_session",
           "open_study", "protocol_details", "stores_caption", "study_caption"]
