"""Prepare the datasets of a profile: extract mirror archives, report what is missing.

    python data_scripts/prepare_data.py --profile default [--data-root DIR] [--mirror DIR]
    python data_scripts/prepare_data.py --download-cifar10      # with internet: torchvision

Exits with status 1 when a dataset of the profile is absent, after printing how to get it.
(`python -m agreement_core build` runs the same check as its first step.)
"""

from __future__ import annotations

import argparse
import sys

from agreement_core.data import CIFAR10
from agreement_core.locations import Locations
from agreement_core.study import DATASET_SOURCES, PROFILES, Workspace
from agreement_core.study.pipeline import prepare_data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--data-root", help="dataset root (default: $AGREEMENT_DATA_ROOT)")
    parser.add_argument("--mirror", help="offline mirror directory (default: $AGREEMENT_MIRROR)")
    parser.add_argument("--download-cifar10", action="store_true",
                        help="download CIFAR-10 (original pixels) with torchvision")
    args = parser.parse_args(argv)
    if args.download_cifar10:
        for split in ("train", "test"):
            CIFAR10(split, root=args.data_root, download=True)
    present = prepare_data(Workspace.open(args.profile, Locations(args.data_root, args.mirror)))
    for name, ok in present.items():
        if not ok:
            print(f"\n{name}: {DATASET_SOURCES.get(name, 'see data_scripts/README.md')}")
    return 0 if all(present.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
