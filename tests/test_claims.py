"""The claims table: the specification, agreement curves with intervals over seed groups and
examples, Holm's adjustment, the verdict rules, networks that cannot have learned, and the
committed tables."""

import json
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agreement_core.agreement import agreement_table, independent_agreement
from agreement_core.claims import (
    CLAIM_COLUMNS,
    Estimate,
    Measure,
    Studies,
    StudyGroups,
    above_bound,
    above_independent,
    agreement_curves,
    claims_sentence,
    claims_table,
    combine,
    format_claims,
    holm,
    judge,
    mixed_correct,
    store_correct,
    verdict_counts,
)
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.specification import (
    SPEC_BY_ID,
    SPECIFICATION,
    VERDICTS,
    normalise_text,
    quote_parts,
)
from agreement_core.study.layout import study_slug
from agreement_core.study.profiles import Profile, get_profile

REPO = Path(__file__).resolve().parent.parent


def _store(path, correct, *, config=None, multilabel=False):
    """A store whose K networks are right where ``correct[t, k, n]`` (train and test)."""
    epochs, k_nets, n = correct.shape
    targets = np.arange(n) % 3
    store = RecordStore.create(path, num_networks=k_nets, num_epochs=epochs, num_classes=3,
                               splits={s: (np.arange(n), targets) for s in ("train", "test")},
                               encoding="compact", config=config or {"arch": "toy"})
    for split in ("train", "test"):
        for t in range(epochs):
            for k in range(k_nets):
                store.write_epoch(k, split, t + 1,
                                  np.where(correct[t, k], targets, (targets + 1) % 3))
    return store


def _shared_order(n=400, epochs=8, k_nets=5, seed=0, noise=0.02):
    """Networks that learn the examples in one shared order (plus a little noise), all of
    them learned by the last epoch."""
    rng = np.random.default_rng(seed)
    learned = rng.integers(1, epochs, n)
    correct = np.arange(1, epochs + 1)[:, None, None] >= learned[None, None, :]
    correct = np.repeat(correct, k_nets, axis=1)
    noisy = correct ^ (rng.random(correct.shape) < noise)
    noisy[-1] = True
    return noisy


def _independent(n=4000, epochs=8, k_nets=5, seed=0, final=0.95):
    """Networks right on independent random examples at a rising accuracy: they cannot have
    learned any order of the examples."""
    rng = np.random.default_rng(seed)
    acc = np.linspace(0.25, final, epochs)[:, None, None]
    return rng.random((epochs, k_nets, n)) < acc


def test_curves_match_the_agreement_table_and_the_independent_baseline(tmp_path):
    store = _store(tmp_path / "s", _shared_order())
    curves = agreement_curves(store_correct(store, "train"), n_boot=50)
    table = agreement_table(store, "train")
    for column in ("tpa", "lower_bound", "mean_acc", "std_acc"):
        np.testing.assert_allclose(curves.point[column], table[column], rtol=1e-12)
    expected = [independent_agreement(store.correct("train", t).mean(axis=1))
                for t in range(1, store.num_epochs + 1)]
    np.testing.assert_allclose(curves.point["independent"], expected, rtol=1e-12)
    assert curves.boot["tpa"].shape == (50, store.num_epochs)


def test_shared_order_agrees_above_independence_and_independent_networks_do_not(tmp_path):
    shared = _store(tmp_path / "shared", _shared_order())
    estimate = combine([agreement_curves(store_correct(shared, "train")).measure(
        above_independent)])
    assert estimate.low > 0.2
    independent = _store(tmp_path / "independent", _independent())
    estimate = combine([agreement_curves(store_correct(independent, "train")).measure(
        above_independent)])
    assert estimate.low < 0 < estimate.high and abs(estimate.value) < 0.02
    # ... though they still agree "above the lower bound": it holds by construction.
    bound = agreement_curves(store_correct(independent, "train")).measure(above_bound)
    assert bound.value >= -1e-12 and np.all(bound.boot >= -1e-12)


def test_studies_of_the_same_examples_get_the_same_resamples(tmp_path):
    store = _store(tmp_path / "s", _shared_order())
    first = agreement_curves(store_correct(store, "train"), n_boot=30, seed=4)
    second = agreement_curves(store_correct(store, "train"), n_boot=30, seed=4)
    np.testing.assert_array_equal(first.boot["tpa"], second.boot["tpa"])
    other = agreement_curves(store_correct(store, "train"), n_boot=30, seed=5)
    assert not np.array_equal(first.boot["tpa"], other.boot["tpa"])


def test_mixed_correct_takes_one_network_of_each_store(tmp_path):
    a = _store(tmp_path / "a", _shared_order(seed=1))
    b = _store(tmp_path / "b", _shared_order(seed=2))
    epochs = list(mixed_correct([a, b], "train", network=3))
    assert len(epochs) == a.num_epochs
    np.testing.assert_array_equal(epochs[2], np.stack([a.correct("train", 3)[3],
                                                       b.correct("train", 3)[3]]))


# ------------------------------------------------------------------ intervals and Holm
def test_the_interval_includes_training_variance():
    rng = np.random.default_rng(0)
    tight = rng.normal(0, 0.001, 500)  # example bootstrap spread: sd 0.001
    same = [Measure(0.1, 0.1 + tight) for _ in range(3)]
    spread = [Measure(v, v + tight) for v in (0.05, 0.1, 0.15)]
    a, b = combine(same), combine(spread)
    assert a.value == pytest.approx(0.1) and b.value == pytest.approx(0.1)
    # Identical groups: only the example variance, with G - 1 = 2 degrees of freedom.
    assert a.high - a.low == pytest.approx(2 * 4.303 * 0.001, rel=0.1)
    # Groups 0.05 apart: the seed variance s^2 / G dominates (t_2 * 0.05 / sqrt(3) ~ 0.124).
    assert b.high - b.low > 0.2 and b.low < 0 < b.high and b.p > 0.05
    assert (b.seed_min, b.seed_max, b.n_groups) == (0.05, 0.15, 3)
    # One group: the normal quantile and the example variance only.
    one = combine(same[:1])
    assert one.high - one.low == pytest.approx(2 * 1.96 * 0.001, rel=0.1)
    assert np.isnan(combine([]).value)


def test_holm_matches_a_hand_computation():
    p = [0.01, 0.04, np.nan, 0.03, 0.2]
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4 * 0.01, 3 * 0.03, max(0.09, 2 * 0.04), max(.., 0.2)
    np.testing.assert_allclose(holm(p), [0.04, 0.09, np.nan, 0.09, 0.2])
    assert np.isnan(holm([np.nan])).all()


# ------------------------------------------------------------------ verdict rules
def _row(spec_id, value=0.2, low=0.1, high=0.3, p_holm=0.001, **extra):
    row = {"spec_id": spec_id, "value": value, "ci_low": low, "ci_high": high,
           "p_holm": p_holm, "curve_change": np.nan, "curve_low": np.nan,
           "curve_high": np.nan, "within_class": np.nan, "within_low": np.nan,
           "within_high": np.nan, "_absent": "", "_blocked": ""}
    row.update(extra)
    return row


def test_judge_applies_the_six_verdicts():
    # agreement-train predicts +; voc-bbox_area_share predicts -.
    assert judge(_row("agreement-train"))[0] == "reproduced"
    assert judge(_row("agreement-train", -0.2, -0.3, -0.1))[0] == "differs"
    assert "opposite" in judge(_row("agreement-train", -0.2, -0.3, -0.1))[1]
    assert judge(_row("agreement-train", 0.01, -0.1, 0.12, p_holm=0.6))[0] == "differs"
    assert judge(_row("voc-bbox_area_share", -0.2, -0.3, -0.1))[0] == "reproduced"
    assert judge(_row("agreement-train-bound"))[0] == "descriptive"
    assert judge(_row("agreement-train", _blocked="2 seed groups"))[0] == "inconclusive"
    assert judge(_row("kth-scale", _absent="no KTH"))[0] == "not testable here"
    # The rank measure and the paper's curve disagree: mixed.
    mixed = _row("voc-entropy", curve_change=-0.2, curve_low=-0.3, curve_high=-0.1)
    assert judge(mixed)[0] == "mixed"
    both = _row("voc-entropy", curve_change=0.2, curve_low=0.1, curve_high=0.3,
                within_class=0.1, within_low=0.05, within_high=0.2)
    assert judge(both)[0] == "reproduced"
    # Pooled holds, within class it does not: mixed.
    pooled_only = _row("voc-entropy", within_class=0.0, within_low=-0.05, within_high=0.05)
    assert judge(pooled_only)[0] == "mixed"
    # Every measure with the paper's sign, the primary one not clear after Holm: too little
    # power to decide.
    weak = _row("voc-entropy", p_holm=0.2, curve_change=0.2, curve_low=0.1, curve_high=0.3)
    assert judge(weak)[0] == "inconclusive"
    # Equivalence: inside the margin or not.
    assert judge(_row("clutter-edges", 0.02, -0.05, 0.08))[0] == "reproduced"
    assert judge(_row("clutter-edges", 0.15, 0.11, 0.19))[0] == "differs"
    assert judge(_row("hist-voc-skewed", 1.2, 0.8, 1.6))[0] == "reproduced"  # outside


# ------------------------------------------------------------------ whole tables
def _groups(tmp_path, name, make, n_groups=3, statistics=None, **kwargs):
    # Every study and seed group draws its own networks (the same seed would give the same
    # "networks", which agree perfectly).
    base = zlib.crc32(name.encode()) % 10_000 * 10
    stores = [_store(tmp_path / f"{name}{g}", make(seed=base + g, **kwargs))
              for g in range(n_groups)]
    return StudyGroups(name, stores, statistics or {}, parameters=1000)


def _statistics(n, seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"example_id": np.arange(n), "label": np.arange(n) % 3})
    for column in ("entropy", "segments", "dct_share", "sobel_edges", "crisp_edges",
                   "instances", "bbox_area_share", "vsd_score", "soft_label_entropy"):
        table[column] = rng.normal(size=n)
    return {"train": table, "test": table}


def _studies(tmp_path, make, **kwargs) -> Studies:
    stats = _statistics(kwargs.get("n", 4000))
    g = lambda name, **kw: _groups(tmp_path, name, make, statistics=stats,  # noqa: E731
                                   **{**kwargs, **kw})
    main = g("main")
    return Studies(main=main, families={"a": main, "b": g("b")}, mixed=[main, g("c")],
                   random_labels=g("rl"), batch_sizes={"fixed": (g("b64"), g("b512"))},
                   voc={"densenet121": g("voc")}, texture=g("dtd"), imagenet=g("inet"))


def test_networks_that_cannot_have_learned_reproduce_no_directional_claim(tmp_path):
    """Independent random predictions, three seed groups, networks that 'fit' (final
    accuracy 0.95, errors independent) and random statistics: every directional verdict
    must be something other than reproduced."""
    table = claims_table(_studies(tmp_path, _independent, n=3000), n_boot=60)
    directional = table[table["test"] == "directional"]
    assert len(directional) > 30
    reproduced = directional.loc[directional["verdict"] == "reproduced", "claim_id"].tolist()
    assert not reproduced, f"random networks 'reproduce' {reproduced}"
    # ... and networks at chance (accuracy 0.1 to 0.3) did not fit: inconclusive.
    chance = claims_table(_studies(tmp_path / "chance", _independent, n=2000, final=0.3),
                          n_boot=30)
    trained = chance[(chance["test"] == "directional") & (chance["study"] != "VOC train images")]
    assert (trained["verdict"] == "inconclusive").all()
    assert trained["note"].str.contains("did not fit").any()


def test_shared_order_reproduces_agreement_with_three_groups_not_with_one(tmp_path):
    studies = _studies(tmp_path, _shared_order)
    table = claims_table(studies, n_boot=60).set_index("claim_id")
    row = table.loc["agreement-train"]
    assert row["verdict"] == "reproduced" and row["n_seed_groups"] == 3
    assert row["p_holm"] >= row["p_value"]
    per_group = [agreement_curves(store_correct(s, "train"), n_boot=60)
                 .measure(above_independent).value for s in studies.main.stores]
    assert row["value"] == pytest.approx(np.mean(per_group))
    assert (row["seed_min"], row["seed_max"]) == pytest.approx((min(per_group),
                                                                 max(per_group)))
    assert table.loc["agreement-train-bound", "verdict"] == "descriptive"
    studies.main.stores = studies.main.stores[:1]
    one = claims_table(studies, n_boot=30).set_index("claim_id").loc["agreement-train"]
    assert one["verdict"] == "inconclusive" and "1 seed group" in one["note"]


def test_a_planted_order_is_found_by_both_measures(tmp_path):
    """Statistics that order learning: the rank correlation, the paper's curve and the
    within-class correlation all find it, and the never-agreed share is reported."""
    n, epochs = 900, 8
    rng = np.random.default_rng(0)
    learned = rng.integers(1, epochs + 3, n)  # some never learned

    def make(seed, **_):
        r = np.random.default_rng(seed)
        correct = np.arange(1, epochs + 1)[:, None, None] >= learned[None, None, :]
        return np.repeat(correct, 5, axis=1) ^ (r.random((epochs, 5, n)) < 0.01)

    stats = _statistics(n)
    stats["train"]["entropy"] = learned + rng.normal(0, 0.5, n)   # learned first: low (+)
    stats["train"]["segments"] = -learned + rng.normal(0, 0.5, n)  # learned first: high
    voc = _groups(tmp_path, "voc", make, statistics=stats)
    studies = Studies(main=_groups(tmp_path, "main", _shared_order), voc={"densenet121": voc})
    table = claims_table(studies, n_boot=60).set_index("claim_id")
    entropy = table.loc["voc-entropy-densenet121"]
    assert entropy["value"] > 0.8 and entropy["curve_change"] > 0 and entropy["within_class"] > 0.8
    never = float(np.mean(learned > epochs))
    assert entropy["never_agreed"] == pytest.approx(never, abs=0.05)
    assert entropy["final_train_acc"] < 0.9 and entropy["verdict"] == "inconclusive"
    segments = table.loc["voc-segments-densenet121"]
    assert segments["value"] < -0.8 and segments["curve_change"] < 0


# ------------------------------------------------------------------ the specification
def test_every_quote_is_the_papers_own_words(paper_text):
    paper = normalise_text(paper_text)
    for spec in SPECIFICATION:
        if spec.source != "pliushch":
            continue
        for piece in quote_parts(normalise_text(spec.quote)):
            assert piece in paper, f"{spec.id}: the quote is not verbatim: {piece[:60]}"


def test_the_specification_is_complete_and_consistent():
    assert len(SPEC_BY_ID) == len(SPECIFICATION) >= 50
    for spec in SPECIFICATION:
        assert spec.location and spec.quantity and spec.statement
        if spec.test == "directional":
            assert spec.direction in (-1, 1)


def _verdict_names(notebook: Path) -> list[str]:
    names = []
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        for call in re.findall(r"verdict\(([^)]*)\)", source):
            names += re.findall(r'"([^"]+)"', call.split("roles=")[0].split("archs=")[0])
    return names


def test_every_claim_the_book_shows_has_a_specification_entry():
    """A page's verdict block names claims; each must be (or extend) a specification id."""
    shown = {}
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        for name in _verdict_names(notebook):
            shown[name] = notebook.stem
            assert any(name == s or name.startswith(s + "-") or s.startswith(name + "-")
                       for s in SPEC_BY_ID), \
                f"{notebook.name} shows {name!r}, which has no entry in the specification"
    assert len(shown) >= 20
    # And every entry is shown on a page that lists it.
    for spec in SPECIFICATION:
        pages = {page for name, page in shown.items()
                 if name == spec.id or spec.id.startswith(name + "-")
                 or name.startswith(spec.id + "-")}
        assert pages, f"{spec.id} is on no page's verdict block"


def test_select_claims_refuses_a_claim_without_an_entry():
    from agreement_core.study.figures import select_claims

    table = pd.read_csv(REPO / "results" / "full" / "claims.csv")
    chosen = select_claims(table, ["voc-entropy"])
    assert len(chosen) >= 2 and set(chosen["spec_id"]) == {"voc-entropy"}  # not the test set's
    assert set(select_claims(table, ["hist"])["spec_id"]) == {
        s.id for s in SPECIFICATION if s.id.startswith("hist-")}
    assert list(select_claims(table, ["agreement-datasets-voc"])["study"].str[:3]) == ["VOC"] * 2
    with pytest.raises(ConfigError, match="not a claim of the specification"):
        select_claims(table, ["voc-colourfulness"])


@pytest.mark.parametrize("profile", ["full"])
def test_the_committed_table_covers_the_specification(profile):
    table = pd.read_csv(REPO / "results" / profile / "claims.csv",
                        keep_default_na=False, na_values=[""])
    assert list(table.columns) == CLAIM_COLUMNS
    assert set(table["spec_id"]) == set(SPEC_BY_ID)
    assert set(table["verdict"]) <= set(VERDICTS)
    # Descriptive claims are never counted as evidence; directional rows are judged on
    # at least three seed groups or not at all.
    tests = table["spec_id"].map(lambda i: SPEC_BY_ID[i].test)
    assert (table.loc[tests == "descriptive", "verdict"] == "descriptive").all()
    judged = table[(tests == "directional") & table["verdict"].isin(
        ["reproduced", "differs", "mixed"])]
    trained = judged[judged["study"] != "VOC train images"]
    assert (trained["n_seed_groups"] >= 3).all()
    assert (trained["p_holm"] >= trained["p_value"] - 1e-12).all()


def test_claims_prints_the_committed_table_without_recomputing(capsys):
    from agreement_core.cli import main

    assert main(["claims", "--profile", "full", "--width", "90"]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(REPO / "results" / "full" / "claims.csv",
                        keep_default_na=False, na_values=[""])
    counts = verdict_counts(table)
    assert ", ".join(f"{n} {v}" for v, n in counts.items()) in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 90
    assert "[reproduced] agreement-train " in out
    assert format_claims(table.head(3), 70).count("\n[") == 2


def test_estimates_of_missing_studies_are_nan():
    missing = Estimate.missing()
    assert np.isnan(missing.value) and missing.n_groups == 0


def test_full_profile_seed_groups_ablations_and_order():
    full = get_profile("full")
    roles = list(full.configs())
    assert roles[:3] == ["cifar10", "cifar10-seed5", "cifar10-seed10"]
    assert roles.index("cifar10-densenet_bc_40") < roles.index("cifar10-random-labels") \
        < roles.index("cifar10-batch64")
    main = full.config("cifar10")
    assert (main.train_subset, main.test_subset, main.precision) == (None, None, "bfloat16")
    assert full.config("cifar10", arch="densenet_bc_40").epochs == 10
    assert full.scaled_lr_config(64).lr == pytest.approx(0.05)
    assert full.scaled_lr_config(512).lr == pytest.approx(0.4)
    assert full.encoding == "compact"
    # The cheap ablations are trained once per seed group too, seeds offset like the main's.
    for role in ("cifar10-lenet5_bn", "cifar10-batch64", "cifar10-random-labels"):
        assert full.configs()[f"{role}-seed10"].seed == full.configs()[role].seed + 10
    assert "cifar10-resnet20-seed5" not in roles
    # The default profile's studies keep their committed directories (the slugs do not move).
    committed = {p.name for p in (REPO / "results" / "default" / "studies").iterdir()
                 if p.name.startswith(("cifar10", "imagenette"))}
    assert {study_slug(c) for c in get_profile("default").configs().values()
            if c.dataset in ("cifar10", "imagenette")} == committed


def test_seed_groups_closer_than_k_are_refused():
    with pytest.raises(ConfigError, match="at least K=5 apart"):
        Profile(name="x", description="", studies={"cifar10": {"num_networks": 5}},
                architectures=(), batch_sizes=(), statistics={}, seed_groups=(3,))


def test_setup_differences_name_underfitting_from_the_committed_voc_study(data_root, mirror):
    """The Fig. 18 page's reasons: ResNet-50 fits little of VOC here, and the page says so."""
    from agreement_core.study import notebook_session

    session = notebook_session({"profile": "default", "results_dir": str(REPO / "results"),
                                "data_root": str(data_root), "mirror": str(mirror)})
    store = RecordStore.open(session.workspace.layout.study_dir(
        session.profile.config("voc", arch="resnet50")))
    correct = store.correct("train", store.num_epochs)
    assert correct.mean() < 0.9  # the committed run: the reason applies
    reasons = " ".join(session.setup_differences("voc:resnet50"))
    assert f"mean train accuracy {correct.mean():.1%} at the last epoch" in reasons
    assert f"all networks right on {int(correct.all(axis=0).sum()):,} of 1,697" in reasons
    assert "1,697 training images (the paper: 16,551)" in reasons
    # A papermill override of the architecture is what the page's "voc" study becomes, so
    # its reasons describe that network, not the profile's default one.
    overridden = notebook_session({"profile": "default", "results_dir": str(REPO / "results"),
                                   "data_root": str(data_root), "mirror": str(mirror),
                                   "arch": "resnet50"})
    voc_reasons = overridden.setup_differences("voc")[0]
    assert voc_reasons.startswith("voc: ") and "network resnet50 (the paper: densenet121)" \
        in voc_reasons
    assert f"mean train accuracy {correct.mean():.1%}" in voc_reasons


def test_readme_states_the_committed_tally_and_the_tables_intervals():
    """The README's verdict tally and the intervals its figure caption cites are the
    committed table's."""
    readme = " ".join((REPO / "README.md").read_text().split())
    table = pd.read_csv(REPO / "results" / "full" / "claims.csv",
                        keep_default_na=False, na_values=[""])
    counts = verdict_counts(table)
    tally = ", ".join(f"{n} {v}" for v, n in counts.items())
    assert f"{claims_sentence(table)}, read {tally}." in readme
    rows = table.set_index("claim_id")
    for claim_id in ("cifar10-stat-sobel_edges", "soft-label-entropy"):
        row = rows.loc[claim_id]
        value = f"{row['value']:+.3f}".lstrip("+")
        interval = f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        assert f"{value} with the agreed-from epoch, 95% CI {interval}" in readme \
            or f"rho = {f'{row.value:+.3f}'} {interval}" in readme, \
            f"README does not cite {claim_id} as {value} {interval}"


def test_the_books_first_screen_summarises_the_committed_table():
    from agreement_core.claims import findings_markdown, row_dataset

    table = pd.read_csv(REPO / "results" / "full" / "claims.csv",
                        keep_default_na=False, na_values=[""])
    text = findings_markdown(table)
    for verdict, n in verdict_counts(table).items():
        assert f"**{n} {verdict}**" in text
    for dataset in ("CIFAR-10", "Pascal VOC", "textures", "ImageNet"):
        assert f"- **{dataset}**" in text
    assert "DTD stands in" in text and "Imagenette stands in" in text
    assert row_dataset("voc-entropy-densenet121", "VOC densenet121") == "Pascal VOC"
    assert row_dataset("agreement-test-imagenet", "Imagenette fastnet_small") == "ImageNet"
    assert row_dataset("gap-early", "CIFAR-10 vgg11_narrow (main)") == "CIFAR-10"
    assert "{include} _generated/findings.md" in (REPO / "book" / "intro.md").read_text()


# ------------------------------------------------------------------ a stale or corrupt table
def _copy_of_committed_claims(tmp_path):
    import shutil

    from agreement_core._io import write_table

    table = pd.read_csv(REPO / "results" / "full" / "claims.csv",
                        keep_default_na=False, na_values=[""])
    path = tmp_path / "claims.csv"
    write_table(table, path, provenance={"stores": {"main": "sha256:x"}})
    shutil.copy(path, tmp_path / "original.csv")
    return table, path


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.assign(verdict=["bogus-verdict"] * len(t)), "verdict 'bogus-verdict'"),
    (lambda t: t.assign(value=-7.0, ci_low=5.0, ci_high=-5.0), "does not hold -7"),
    (lambda t: t.assign(spec_id="no-such-claim"), "not in the specification"),
    (lambda t: t.drop(columns=["p_holm"]), "other columns"),
])
def test_an_impossible_claims_table_is_refused_in_one_line(tmp_path, damage, message):
    from agreement_core._io import write_table
    from agreement_core.errors import DerivedFileError
    from agreement_core.study.claims import read_claims

    table, path = _copy_of_committed_claims(tmp_path)
    inputs = {"stores": {"main": "sha256:x"}}
    assert len(read_claims(path, inputs)) == len(table)
    write_table(damage(table), path, provenance=inputs)  # well-formed, provenance and all
    with pytest.raises(DerivedFileError, match=re.escape(message)) as caught:
        read_claims(path, inputs)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_an_edited_stale_or_garbage_claims_table_is_not_trusted(tmp_path):
    from agreement_core.errors import DerivedFileError
    from agreement_core.study.claims import read_claims

    table, path = _copy_of_committed_claims(tmp_path)
    inputs = {"stores": {"main": "sha256:x"}}
    with pytest.raises(DerivedFileError, match="stale: derived from other inputs"):
        read_claims(path, {"stores": {"main": "sha256:y"}})  # a study changed since
    path.write_text(path.read_text().replace("reproduced", "differs", 1))  # edited by hand
    with pytest.raises(DerivedFileError, match="does not match its provenance"):
        read_claims(path, inputs)
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(DerivedFileError):
        read_claims(path, inputs)
    (tmp_path / "claims.csv.provenance.json").unlink()
    with pytest.raises(DerivedFileError, match="records no provenance"):
        read_claims(path, inputs)


def test_the_committed_claims_are_current_with_the_committed_results():
    """A fresh clone trusts the committed table: it was derived from exactly the committed
    stores and statistics (else the book would compute it again during the build)."""
    from agreement_core.locations import Locations
    from agreement_core.study import Workspace
    from agreement_core.study.claims import claims_inputs, read_claims

    workspace = Workspace.open("full", Locations(results=REPO / "results"))
    read_claims(workspace.layout.claims_path, claims_inputs(workspace))


# ------------------------------------------------------------------ Hacohen et al.'s claims
def _one_order(seed=0, n=600, epochs=8, k_nets=5, noise=0.01):
    """Learners of every seed learning the examples in one order (drawn once), each with
    its own noise: the order is a property of the examples."""
    learned = np.random.default_rng(12345).integers(1, epochs, n)
    correct = np.arange(1, epochs + 1)[:, None, None] >= learned[None, None, :]
    correct = np.repeat(correct, k_nets, axis=1)
    noisy = correct ^ (np.random.default_rng(seed).random(correct.shape) < noise)
    noisy[-1] = True
    return noisy


def _independent_600(seed=0):
    return _independent(n=600, seed=seed)


def _learners_tables(tmp_path, make, *, synthetic_make=None, boosting_make=None):
    """The tables :mod:`agreement_core.hacohen` writes, computed by its own functions from
    learners whose correctness ``make(seed=...)`` draws: three seed groups of a family "a"
    (record stores: ceiling, explained order, nesting), one of "b"; and per-group summaries
    of "natural", "text" and a synthetic dataset (``synthetic_make``, default ``make``), with
    boosting groups (``boosting_make``) on "natural"."""
    from agreement_core.correlation import spearman
    from agreement_core.hacohen import agreement_summary, orders_of, run_study_order

    stores = {"a": [_store(tmp_path / f"a{g}", make(seed=10 * g)).path for g in range(3)],
              "b": [_store(tmp_path / "b0", make(seed=99)).path]}
    tables = run_study_order(stores, {}, tmp_path / "order", family="a", weaker="b",
                             n_boot=50, log=lambda *_: None)
    rows, cross = [], []
    y = np.arange(make(seed=0).shape[2]) % 3
    orders = {}
    for dataset, maker in (("natural", make), ("text", make),
                           ("random", synthetic_make or make)):
        for learner, m in (("network", maker), ("boosting", boosting_make)):
            if m is None or (learner == "boosting" and dataset != "natural"):
                continue
            for g in range(3):
                correct = m(seed=1000 * g + len(dataset) + len(learner))
                predictions = np.where(correct, y, (y + 1) % 3)
                _, summary = agreement_summary(predictions, y)
                rows.append({"dataset": dataset, "learner": learner, "group": g, **summary})
                orders[(dataset, learner, g)] = orders_of(predictions, y)["order_key"]
    if boosting_make is not None:
        for g in range(3):
            rest = np.mean([orders[("natural", "network", h)] for h in range(3) if h != g],
                           axis=0)
            cross.append({"dataset": "natural", "order": "order_key", "group": g,
                          "network_rho": spearman(orders[("natural", "network", g)], rest),
                          "boosting_rho": spearman(orders[("natural", "boosting", g)], rest)})
    tables["groups"] = pd.DataFrame(rows)
    tables["cross_groups"] = pd.DataFrame(cross)
    return tables


def _hacohen_verdicts(tmp_path, tables, make) -> pd.DataFrame:
    main = StudyGroups("main", [RecordStore.open(p) for p in sorted(tmp_path.glob("a[0-9]"))])
    other = StudyGroups("b", [RecordStore.open(tmp_path / "b0")])
    studies = Studies(main=main, families={"a": main, "b": other}, hacohen=tables)
    table = claims_table(studies, n_boot=30)
    return table[table["spec_id"].str.startswith("hacohen-")].set_index("claim_id")


def test_hacohen_claims_from_learners_with_a_shared_order(tmp_path):
    """Learners with one shared order: claims 1 and 5 reproduced with three seed groups;
    claim 2 inconclusive (one seed group of "b"); a "synthetic" dataset on which the
    learners are independent (the order gone) reproduces claim 3, and a boosting run with
    an order of its own claim 4."""
    tables = _learners_tables(tmp_path, _one_order, synthetic_make=_independent_600,
                              boosting_make=_independent_600)
    rows = _hacohen_verdicts(tmp_path, tables, _one_order)
    assert rows.loc["hacohen-order-train", "verdict"] == "reproduced"
    assert rows.loc["hacohen-order-train", "n_seed_groups"] == 3
    assert rows.loc["hacohen-arch-first-a", "verdict"] == "inconclusive"
    assert "1 seed group" in rows.loc["hacohen-arch-first-a", "note"]
    assert rows.loc["hacohen-benchmarks-text", "verdict"] == "reproduced"
    assert rows.loc["hacohen-synthetic-random", "verdict"] == "reproduced"
    assert rows.loc["hacohen-paradigms-natural", "verdict"] == "reproduced"
    assert set(rows["verdict"]) <= set(VERDICTS)


def test_independent_learners_reproduce_no_directional_hacohen_claim(tmp_path):
    """Learners that fit (final accuracy 0.95) but whose errors are independent have no
    shared order: no directional claim of Hacohen et al. comes out reproduced, and a
    synthetic dataset with the natural one's (absent) order does not reproduce claim 3."""
    tables = _learners_tables(tmp_path, _independent_600, boosting_make=_independent_600)
    rows = _hacohen_verdicts(tmp_path, tables, _independent_600)
    directional = rows[rows["test"] == "directional"]
    assert len(directional) >= 4
    assert not (directional["verdict"] == "reproduced").any(), directional["verdict"]
    assert rows.loc["hacohen-synthetic-random", "verdict"] != "reproduced"


def test_hacohen_rows_without_their_tables_are_not_run_yet(tmp_path):
    main = StudyGroups("main", [_store(tmp_path / "m", _shared_order(seed=1))])
    table = claims_table(Studies(main=main), n_boot=20)
    rows = table[table["spec_id"].str.startswith("hacohen-")]
    assert set(rows["spec_id"]) == {s.id for s in SPECIFICATION if s.source == "hacohen"}
    assert (rows["verdict"] == "inconclusive").all()
    assert rows["note"].str.contains("not run yet").all()


def test_every_hacohen_quote_is_their_abstracts_words(mirror):
    path = mirror.parent / "reference" / "lets-agree-to-agree-summary.txt"
    abstract = normalise_text(path.read_text(encoding="utf-8"))
    hacohen = [s for s in SPECIFICATION if s.source == "hacohen"]
    assert len({s.location.split("(claim ")[1] for s in hacohen}) == 5  # all five claims
    for spec in hacohen:
        for piece in quote_parts(normalise_text(spec.quote)):
            assert piece in abstract, f"{spec.id}: not their words: {piece[:60]}"
