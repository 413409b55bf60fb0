"""Pascal VOC as a 20-class multi-label classification dataset.

One loader for every copy of VOC, all in the real ``VOCdevkit`` layout:

- the official VOC 2007+2012 (``VOCdevkit/VOC2007`` and ``VOC2012``): the paper's protocol,
  train on 2007+2012 trainval, test on 2007 test;
- VOC2012 alone (no VOC2007): train on VOC2012 ``train``, test on VOC2012 ``val``;
- the offline mirror's ``voc2012-subset.tar.gz`` (a VOC2012-only devkit with 3,426 images),
  extracted once into ``<data root>/voc2012-subset``, read as VOC2012 alone.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .. import locations
from ..errors import ConfigError, DatasetError
from .archive import extract_from_mirror
from .base import ImageDataset, Subset

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
TRAIN_YEARS = (2007, 2012)
_CLASS_INDEX = {name: k for k, name in enumerate(VOC_CLASSES)}

MIRROR_ARCHIVE = "voc2012-subset.tar.gz"
#: Where the mirror's archive is extracted, under the data root (kept apart from a user's
#: own ``VOCdevkit/``, which is read first).
MIRROR_FOLDER = "voc2012-subset"
#: The mirror's manifest (``VOC2012/manifest.csv``) starts with these columns; the official
#: VOC has no such file, so it tells the mirror's copy from a user's.
_MIRROR_MANIFEST_COLUMNS = ("id", "split", "original_width", "original_height")
#: Where the Ionescu et al. visual search difficulty scores are looked for, in the devkit.
SCORE_FILES = ("VOC2012/ionescu_vsd_scores.csv", "VOC2012/VSD_dataset.csv", "VSD_dataset.csv")
VSD_URL = "http://image-difficulty.herokuapp.com/ (Visual_Search_Difficulty_v1.0.zip)"

PROTOCOL_0712 = "VOC2007+2012 trainval / VOC2007 test"
PROTOCOL_2012 = "VOC2012 train / VOC2012 val"
#: Shown beside results from VOC2012 alone, mirror or not.
VOC2012_ONLY_CAVEAT = (
    "Pascal VOC without VOC2007: trained on VOC2012 train and tested on VOC2012 val (the "
    "official Main split), not the paper's VOC2007+2012 trainval / VOC2007 test.")
MIRROR_CAVEAT = (
    "Pascal VOC from the offline mirror's VOC2012 subset: 3,426 of the 11,540 VOC2012 "
    "trainval images, chosen by class (each holds a dog, cat, horse, sheep or cow; person, "
    "sofa, chair and car appear beside them, aeroplane never), so not a random sample; no "
    "VOC2007, so train is VOC2012 train (1,697 images) and test is VOC2012 val (1,729), not "
    "the paper's VOC2007+2012 trainval / VOC2007 test; 'difficult' is unknown (every object "
    "counts); images resized to short side 256 (JPEG quality 85), boxes in resized "
    "coordinates.")


class PascalVOC(ImageDataset):
    """Pascal VOC: which of the 20 classes appear in each image (multi-label).

    The protocol follows what the devkit holds (:attr:`protocol`):

    - with ``VOC2007/`` (the official full layout): ``"train"`` is VOC2007 trainval
      followed by VOC2012 trainval (``years``), ``"test"`` is VOC2007 test;
    - with ``VOC2012/`` alone (the mirror, or a user's VOC2012): ``"train"`` is VOC2012
      ``train`` and ``"test"`` is VOC2012 ``val``.

    Within each part the order (and so the example id) is the file order of
    ``ImageSets/Main/<set>.txt``. Objects marked difficult are ignored by default:
    they neither set a label nor count as factors (the mirror does not know which
    objects are difficult: all are kept).

    Where the images come from, in order: a devkit under ``root`` (``root/VOCdevkit``
    or ``root`` itself, holding ``VOC2007/`` and/or ``VOC2012/``), then the mirror's
    subset extracted at ``root/voc2012-subset``, then ``voc2012-subset.tar.gz`` in
    ``mirror``, extracted there once. :attr:`source` is ``"voc"`` for a user's devkit
    and ``"mirror-voc2012-subset"`` for the mirror's; :attr:`caveat` says what differs
    from the paper's data.

    Factor columns: ``image_id``, ``year``, ``width``, ``height``, ``instances``
    (number of objects kept), ``bbox_area_share`` (the share of the image covered
    by the *union* of the kept objects' boxes, in [0, 1]: overlapping boxes are not
    counted twice) and, when a scores file is found, ``vsd_score``: the visual search
    difficulty score of Ionescu et al. (CVPR 2016), NaN for images it does not cover
    (it covers VOC2012 trainval only). :meth:`vsd_scores` returns that column or says
    why there is none.

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        The data root, a folder holding ``VOCdevkit/``, or ``VOCdevkit`` itself
        (default :func:`agreement_core.locations.data_root`).
    mirror : path, optional
        Offline mirror directory (default ``$AGREEMENT_MIRROR``), holding
        ``voc2012-subset.tar.gz``; used only when ``root`` has no devkit.
    transform : callable, optional
        Applied to the PIL image in ``__getitem__``.
    subset : int, float or None
        See :func:`~agreement_core.data.select_subset` (multi-label: the first examples).
    years : sequence of int, optional
        With VOC2007 present: the years whose trainval makes up ``"train"`` (default
        2007 and 2012). Without VOC2007 only ``(2012,)`` is possible (the default).
    ignore_difficult : bool
        Ignore objects marked ``<difficult>1</difficult>``.
    scores : path, optional
        The Ionescu scores file (``name,score`` with or without that header, as
        ``VSD_dataset.csv`` of the authors' release); default: the first of
        :data:`SCORE_FILES` found in the devkit.
    """

    splits = ("train", "test")
    multilabel = True

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, transform: Callable | None = None,
                 subset: Subset = None, years: Sequence[int] | None = None,
                 ignore_difficult: bool = True, scores: str | os.PathLike | None = None):
        split = self.check_split(split)
        if years is not None:
            years = tuple(years)
            if not years or not set(years) <= set(TRAIN_YEARS):
                raise ConfigError(
                    f"years must be a non-empty subset of {TRAIN_YEARS}, got {years}")
        devkit = find_devkit(locations.data_root(root), mirror)
        from_mirror = is_mirror_devkit(devkit)
        if (devkit / "VOC2007").is_dir():
            self.protocol = PROTOCOL_0712
            years = years or TRAIN_YEARS
            parts = ([(year, "trainval") for year in years] if split == "train"
                     else [(2007, "test")])
            caveat = None
        else:
            self.protocol = PROTOCOL_2012
            if years is not None and years != (2012,):
                raise DatasetError(f"no {devkit / 'VOC2007'}: {devkit} holds VOC2012 only, so "
                                   f"years can only be (2012,), got {years}")
            parts = [(2012, "train" if split == "train" else "val")]
            caveat = MIRROR_CAVEAT if from_mirror else VOC2012_ONLY_CAVEAT
        rows = []
        for year, image_set in parts:
            folder = devkit / f"VOC{year}"
            list_file = folder / "ImageSets" / "Main" / f"{image_set}.txt"
            for needed in (folder / "JPEGImages", folder / "Annotations", list_file):
                if not needed.exists():
                    raise DatasetError(f"{needed} not found: {devkit} is not a VOCdevkit folder "
                                       f"(VOC<year>/JPEGImages, Annotations, ImageSets/Main)")
            image_ids = [line.split()[0] for line in list_file.read_text().splitlines()
                         if line.strip()]
            rows += [_read_annotation(folder, year, i, ignore_difficult) for i in image_ids]
        examples = pd.DataFrame(rows, columns=[
            "image_id", "year", "path", "labels", "width", "height", "instances",
            "bbox_area_share"])
        examples.insert(0, "example_id", np.arange(len(examples), dtype=np.int64))
        examples.insert(1, "split", split)

        self.scores_tried = _score_candidates(devkit, scores)
        self.scores_path = next((p for p in self.scores_tried if p.is_file()), None)
        if scores is not None and self.scores_path is None:
            raise DatasetError(f"scores file {scores} not found")
        if self.scores_path is not None:
            table = read_vsd_scores(self.scores_path)
            known = examples["year"] == 2012  # the scores cover VOC2012 trainval only
            examples["vsd_score"] = np.where(
                known, examples["image_id"].map(table).to_numpy(dtype=float), np.nan)
        super().__init__(split, devkit, VOC_CLASSES, examples,
                         source="mirror-voc2012-subset" if from_mirror else "voc",
                         caveat=caveat, transform=transform, subset=subset)

    def vsd_scores(self) -> np.ndarray:
        """The Ionescu et al. visual search difficulty score of every example (float64).

        In the order of :attr:`examples`; NaN for an image the scores file does not
        cover (VOC2007 images, for one).

        Raises
        ------
        DatasetError
            When no scores file was found, naming the places tried and where to get it.
        """
        if "vsd_score" not in self.examples.columns:
            tried = ", ".join(map(str, self.scores_tried))
            raise DatasetError(
                f"no Ionescu et al. visual search difficulty scores for {self.root} (tried "
                f"{tried}). Get VSD_dataset.csv from {VSD_URL} and put it at "
                f"{self.root / SCORE_FILES[1]}, or pass scores=PATH; the offline mirror's "
                f"{MIRROR_ARCHIVE} ships them as {SCORE_FILES[0]}.")
        return self.examples["vsd_score"].to_numpy(dtype=np.float64)


def find_devkit(base: Path, mirror: str | os.PathLike | None = None) -> Path:
    """The VOCdevkit folder to read: a user's under ``base``, else the mirror's subset.

    Looks at ``base/VOCdevkit`` and ``base`` (a devkit holds ``VOC2007/`` or
    ``VOC2012/``), then at ``base/voc2012-subset`` (the extracted mirror), then
    extracts ``voc2012-subset.tar.gz`` from ``mirror`` there (once, atomically).

    Raises
    ------
    DatasetError
        Nothing found, saying what to download; or the archive is corrupt.
    """
    extracted = base / MIRROR_FOLDER
    for candidate in (base / "VOCdevkit", base, extracted):
        if any((candidate / f"VOC{year}").is_dir() for year in TRAIN_YEARS):
            return candidate
    found, tried = extract_from_mirror(mirror, MIRROR_ARCHIVE, extracted, "VOCdevkit")
    if found is not None:
        return found
    raise DatasetError(
        f"Pascal VOC not found: no VOCdevkit (VOC2007/, VOC2012/) in {base} or "
        f"{base / 'VOCdevkit'}, no {extracted}, {tried}. Extract VOCtrainval_06-Nov-2007.tar, "
        f"VOCtest_06-Nov-2007.tar and VOCtrainval_11-May-2012.tar from "
        f"http://host.robots.ox.ac.uk/pascal/VOC/ into {base}, or set AGREEMENT_MIRROR to a "
        f"folder holding {MIRROR_ARCHIVE}.")


def is_mirror_devkit(devkit: Path) -> bool:
    """Whether ``devkit`` is the offline mirror's VOC2012 subset (by its manifest)."""
    manifest = devkit / "VOC2012" / "manifest.csv"
    if (devkit / "VOC2007").is_dir() or not manifest.is_file():
        return False
    with open(manifest) as fh:
        header = fh.readline().strip().split(",")
    return tuple(header[:len(_MIRROR_MANIFEST_COLUMNS)]) == _MIRROR_MANIFEST_COLUMNS


def _score_candidates(devkit: Path, scores) -> list[Path]:
    if scores is not None:
        return [Path(scores)]
    return [devkit / name for name in SCORE_FILES]


def read_vsd_scores(path: str | os.PathLike) -> pd.Series:
    """Image id -> Ionescu visual search difficulty score, from a ``name,score`` file.

    Accepts the mirror's ``ionescu_vsd_scores.csv`` (with a ``name,score`` header)
    and the authors' ``VSD_dataset.csv`` (no header); a ``.jpg`` suffix on the
    name is dropped.

    Raises
    ------
    DatasetError
        The file is unreadable, not two columns of name and number, or names an
        image twice.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, header=None, dtype=str, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"cannot read scores file {path}: {exc}") from exc
    if table.shape[1] != 2:
        raise DatasetError(f"{path}: expected two columns (image name, score), "
                           f"got {table.shape[1]}")
    if [str(v).strip().lower() for v in table.iloc[0]] == ["name", "score"]:
        table = table.iloc[1:]
    names = table[0].str.strip().str.replace(r"\.jpe?g$", "", regex=True, case=False)
    scores = pd.to_numeric(table[1].str.strip(), errors="coerce")
    if scores.isna().any() or names.isna().any():
        bad = int(np.flatnonzero(scores.isna().to_numpy() | names.isna().to_numpy())[0])
        raise DatasetError(f"{path}: row {bad + 1} is not an image name and a number: "
                           f"{table.iloc[bad].tolist()}")
    if names.duplicated().any():
        raise DatasetError(f"{path}: image {names[names.duplicated()].iloc[0]} appears twice")
    return pd.Series(scores.to_numpy(dtype=np.float64), index=names.to_numpy(), name="vsd_score")


def _read_annotation(folder: Path, year: int, image_id: str, ignore_difficult: bool) -> tuple:
    """One example row from ``Annotations/<image_id>.xml``."""
    xml = folder / "Annotations" / f"{image_id}.xml"
    path = f"VOC{year}/JPEGImages/{image_id}.jpg"
    try:
        annotation = ET.parse(xml).getroot()
        width = int(float(annotation.findtext("size/width", "0")))
        height = int(float(annotation.findtext("size/height", "0")))
        labels, boxes = set(), []
        for obj in annotation.findall("object"):
            name = obj.findtext("name", "").strip()
            if name not in _CLASS_INDEX:
                raise DatasetError(f"{xml}: unknown VOC class {name!r}")
            if ignore_difficult and obj.findtext("difficult", "0").strip() == "1":
                continue
            labels.add(_CLASS_INDEX[name])
            box = obj.find("bndbox")
            boxes.append([float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
    except ET.ParseError as exc:
        raise DatasetError(f"malformed annotation {xml}: {exc}") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read annotation {xml}: {exc}") from exc
    except (AttributeError, TypeError, ValueError) as exc:  # a missing or non-numeric field
        raise DatasetError(f"malformed annotation {xml}: {exc}") from exc
    if width <= 0 or height <= 0:  # a few annotations lack the size: read the JPEG header
        try:
            with Image.open(folder.parent / path) as image:
                width, height = image.size
        except OSError as exc:
            raise DatasetError(f"{xml} has no image size and {path} is unreadable") from exc
    # VOC boxes are 1-based inclusive pixel ranges: pixels xmin..xmax span [xmin - 1, xmax].
    spans = np.array(boxes, dtype=float).reshape(-1, 4) - [1, 1, 0, 0]
    spans = np.clip(spans, 0, [width, height, width, height])
    share = union_area(spans) / (width * height)
    return (image_id, year, path, tuple(sorted(labels)), width, height, len(boxes), share)


def union_area(boxes: np.ndarray) -> float:
    """Area of the union of boxes ``(x0, y0, x1, y1)``; overlapping parts count once.

    The box edges cut the plane into grid cells that lie either wholly inside a
    box or wholly outside all of them, so summing the covered cells is exact.
    """
    if len(boxes) == 0:
        return 0.0
    xs, ys = np.unique(boxes[:, [0, 2]]), np.unique(boxes[:, [1, 3]])
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    in_x = (boxes[:, [0]] <= cx) & (cx <= boxes[:, [2]])  # (boxes, cells in x)
    in_y = (boxes[:, [1]] <= cy) & (cy <= boxes[:, [3]])
    covered = (in_y[:, :, None] & in_x[:, None, :]).any(axis=0)
    return float((covered * np.outer(np.diff(ys), np.diff(xs))).sum())
