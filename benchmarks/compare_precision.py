"""Does bfloat16 autocast change the study's results? float32 and bfloat16, same seeds.

Trains (or reuses) one study in each precision with the same configuration and seeds, then
prints side by side, per split: the final accuracy, TPa and lower bound, the largest
per-epoch difference of TPa and of mean accuracy, the agreement of the per-example
agreed-from epochs, and the Spearman correlation of every image statistic with the
agreed-from epoch (with its bootstrap interval) in both precisions.

Usage::

    python benchmarks/compare_precision.py --out /tmp/precision     # default profile's study
    python benchmarks/compare_precision.py --epochs 3 --subset 100   # a quicker look
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from agreement_core.agreement import agreement_table, example_dynamics_table
from agreement_core.correlation import correlation_table
from agreement_core.locations import Locations
from agreement_core.records import RecordStore
from agreement_core.report import learning_dynamics_table
from agreement_core.statistics import read_statistics_tables
from agreement_core.study import Workspace, is_complete, study_statistics, train_study

REPO = Path(__file__).resolve().parents[1]
STATISTICS = ["entropy", "segments", "dct_share", "sobel_edges", "soft_label_entropy"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the two stores go")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--subset", type=int, default=None, help="train images per class")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--mirror", default=os.environ.get("AGREEMENT_MIRROR")
                        or str(REPO.parent / "shared" / "datasets"))
    args = parser.parse_args(argv)
    workspace = Workspace.open("default", Locations(mirror=args.mirror))
    overrides = {k: v for k, v in (("epochs", args.epochs), ("train_subset", args.subset))
                 if v is not None}
    stores = {}
    for precision in ("float32", "bfloat16"):
        config = workspace.profile.config("cifar10", precision=precision, **overrides)
        committed = workspace.layout.study_dir(config)  # the default float32 study is
        if is_complete(committed):                      # committed: no need to retrain it
            stores[precision] = RecordStore.open(committed)
            print(f"{precision}: the committed study {committed}")
            continue
        stores[precision] = train_study(config, args.out / precision,
                                        locations=workspace.locations)
    fp32 = stores["float32"]
    print(f"\n{fp32.num_networks} x {fp32.config['arch']}, {fp32.num_epochs} epochs, "
          f"train {fp32.num_examples('train')} / test {fp32.num_examples('test')} images")
    rows = []
    for split in ("train", "test"):
        tables = {p: agreement_table(s, split) for p, s in stores.items()}
        last = {p: t.iloc[-1] for p, t in tables.items()}
        agreed = {p: example_dynamics_table(s, split)["agreed_from_epoch"]
                  for p, s in stores.items()}
        same = (agreed["float32"].fillna(-1) == agreed["bfloat16"].fillna(-1)).mean()
        rows.append({
            "split": split,
            "acc fp32": last["float32"]["mean_acc"], "acc bf16": last["bfloat16"]["mean_acc"],
            "TPa fp32": last["float32"]["tpa"], "TPa bf16": last["bfloat16"]["tpa"],
            "max |dTPa|": float((tables["float32"]["tpa"] - tables["bfloat16"]["tpa"])
                                .abs().max()),
            "max |dacc|": float((tables["float32"]["mean_acc"]
                                 - tables["bfloat16"]["mean_acc"]).abs().max()),
            "same agreed-from": float(same)})
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(pd.DataFrame(rows).to_string(index=False))
    tables = read_statistics_tables(workspace.layout.statistics_dir, "cifar10", ["train", "test"])
    correlations = []
    for precision, store in stores.items():
        dynamics = learning_dynamics_table(store, study_statistics(workspace, store, "cifar10"))
        for split in store.splits:
            part = dynamics[dynamics["split"] == split]
            columns = [c for c in STATISTICS if c in part and part[c].notna().any()]
            if not columns or split not in tables:
                continue
            table = correlation_table(part, part, columns, num_epochs=store.num_epochs,
                                      label_column="label", n_boot=args.n_boot,
                                      n_perm=args.n_boot)
            table.insert(0, "precision", precision)
            table.insert(1, "split", split)
            correlations.append(table[table["scope"] == "all"])
    if correlations:
        both = pd.concat(correlations, ignore_index=True)
        wide = both.pivot_table(index=["split", "statistic"], columns="precision",
                                values=["rho", "ci_low", "ci_high"])
        print("\nSpearman rho with the agreed-from epoch (all examples), 95% bootstrap CI:")
        for (split, statistic), row in wide.iterrows():
            cells = [f"{p}: {row[('rho', p)]:+.3f} [{row[('ci_low', p)]:+.3f}, "
                     f"{row[('ci_high', p)]:+.3f}]" for p in ("float32", "bfloat16")]
            print(f"  {split:<5} {statistic:<19} " + "   ".join(cells))
    return 0 if np.isfinite(rows[0]["TPa fp32"]) else 1


if __name__ == "__main__":
    sys.exit(main())
