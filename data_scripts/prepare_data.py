"""Prepare the datasets of a profile: extract mirror archives, report what is missing.

    python data_scripts/prepare_data.py --profile default [--data-root DIR] [--mirror DIR]
    python data_scripts/prepare_data.py --dataset voc --dataset dtd   # named datasets only
    python data_scripts/prepare_data.py --download-cifar10      # with internet: torchvision

Exits with status 1 when a dataset of the profile is absent, after printing how to get it.
(`python -m agreement_core build` runs the same check as its first step.)
"""

from __future__ import annotations

import argparse
import sys

from agreement_core.data import CIFAR10, DATASETS, get_dataset
from agreement_core.errors import DatasetError
from agreement_core.locations import Locations
from agreement_core.study import DATASET_SOURCES, PROFILES, Workspace
from agreement_core.study.pipeline import prepare_data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--data-root", help="dataset root (default: $AGREEMENT_DATA_ROOT)")
    parser.add_argument("--mirror", help="offline mirror directory (default: $AGREEMENT_MIRROR)")
    parser.add_argument("--dataset", action="append", choices=sorted(DATASETS),
                        help="prepare this dataset instead of a profile's (repeatable): extract "
                             "it from the mirror if needed, print its source, sizes and caveat")
    parser.add_argument("--download-cifar10", action="store_true",
                        help="download CIFAR-10 (original pixels) with torchvision")
    args = parser.parse_args(argv)
    if args.download_cifar10:
        for split in ("train", "test"):
            CIFAR10(split, root=args.data_root, download=True)
    locations = Locations(args.data_root, args.mirror)
    if args.dataset:
        return 0 if all([_prepare(name, locations) for name in args.dataset]) else 1
    present = prepare_data(Workspace.open(args.profile, locations))
    for name, ok in present.items():
        if not ok:
            print(f"\n{name}: {DATASET_SOURCES.get(name, 'see data_scripts/README.md')}")
    return 0 if all(present.values()) else 1


def _prepare(name: str, locations: Locations) -> bool:
    """Open both splits of ``name`` (extracting mirror archives once); print what was found."""
    try:
        splits = {split: get_dataset(name, split, locations) for split in ("train", "test")}
    except DatasetError as error:
        print(f"{name}: absent ({error})")
        print(f"  {DATASET_SOURCES.get(name, 'see data_scripts/README.md')}")
        return False
    train = splits["train"]
    sizes = ", ".join(f"{split} {len(ds)}" for split, ds in splits.items())
    print(f"{name}: {train.source} at {train.root} ({sizes} images, {train.num_classes} classes)")
    if train.caveat:
        print(f"  note: {train.caveat}")
    return True


if __name__ == "__main__":
    sys.exit(main())
