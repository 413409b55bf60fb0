"""The claim specification: every empirical statement of the paper, in one reviewable place.

One :class:`ClaimSpec` per statement of Pliushch et al., "When Deep Classifiers Agree"
(sections 3-6 and appendices B-E): the paper's own words and where they stand, the quantity we
measure, the direction (and size, where the paper words one) it predicts, the test, and what
the test needs. :func:`agreement_core.claims.claims_table` computes one or more rows per entry
(one per study it is tested on); the claims page, every figure page's verdict block and
``python -m agreement_core claims`` are generated from those rows, and the tests fail when the
book shows a claim that has no entry here. :data:`HACOHEN_SPECIFICATION` adds the five claims
of the work it builds on (Hacohen et al., their abstract), tested by the same rules.

Verdicts (:data:`VERDICTS`), the rules :func:`agreement_core.claims.judge` applies:

``descriptive``
    Holds by construction or can hardly fail (agreement above the lower bound: |all right| >=
    N x bound for any networks; a mean entropy capped at log2(100) bits). Shown with its
    number, never counted as evidence.
``reproduced``
    The test could have failed and did not: every measure of the claim has the paper's sign
    with an interval (over seed groups *and* examples) that excludes zero, the primary one
    after Holm's adjustment over all directional rows; for an equivalence or shape claim, the
    interval lies inside the predicted region.
``differs``
    The primary measure has the opposite sign, or shows no clear effect (its adjusted test
    does not exclude zero), and no other measure supports the paper.
``mixed``
    The measures disagree: the rank correlation and the paper's per-epoch curve, or the pooled
    and the within-class correlation.
``inconclusive``
    The test cannot decide: fewer than :data:`MIN_SEED_GROUPS` seed groups, networks that did
    not fit their train set (final mean train accuracy below :data:`FIT_ACCURACY`), no epoch
    passing the paper's 20% rule, a study not run yet, or every measure with the paper's sign
    but the primary one not clear of zero after Holm's adjustment (too little power to
    decide). The note says which.
``not testable here``
    The data is absent (e.g. KTH-TIPS2-b's illumination, pose and scale, which the DTD
    stand-in lacks). The note says what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERDICTS = ("reproduced", "mixed", "differs", "inconclusive", "not testable here",
            "descriptive")

#: A verdict on a claim about trained networks needs this many independent seed groups.
MIN_SEED_GROUPS = 3
#: Networks fit their train set when their final mean train accuracy reaches this (exact
#: match on Pascal VOC); a study whose networks did not is inconclusive.
FIT_ACCURACY = 0.9
#: Family-wise level of the directional claims (Holm-adjusted).
ALPHA = 0.05

#: Whose claims: the paper this study reproduces, and the work it builds on.
SOURCES = {
    "pliushch": 'Pliushch et al., "When Deep Classifiers Agree" (the specification)',
    "hacohen": 'Hacohen, Choshen and Weinshall, "Let\'s Agree to Agree" (ICML 2020)',
}

#: Test kinds: ``descriptive`` (no test), ``directional`` (sign of a quantity, in the Holm
#: family), ``equivalence`` (the interval inside ``region``), ``shape`` (a distribution
#: statistic inside ``region``), ``absent`` (the data to test it is not here).
TESTS = ("descriptive", "directional", "equivalence", "shape", "absent")


@dataclass(frozen=True)
class ClaimSpec:
    """One empirical statement of the paper and how we test it.

    Attributes
    ----------
    id : str
        Stable identifier; rows of the claims table carry it as ``spec_id``.
    statement : str
        The claim in one line, our words.
    quote : str
        The paper's own sentence (verbatim; ``[...]`` marks a cut; markdown emphasis dropped).
    location : str
        Where it stands: section and figure.
    quantity : str
        What we measure.
    test : str
        One of :data:`TESTS`.
    direction : int
        Predicted sign of the quantity (+1, -1); 0 where none is predicted.
    magnitude : str
        The paper's words on the size ("slightly", "similar"), or "".
    region : tuple of float, optional
        ``(low, high)``: where the interval must lie for an equivalence or shape claim
        (``inside`` True) or outside of which it must lie (``inside`` False).
    inside : bool
        See ``region``.
    needs : tuple of str
        What the test needs: datasets, seed groups, networks that fit.
    figures : tuple of str
        The book pages (notebook names) whose verdict block shows it.
    missing : str
        For ``absent`` claims: what data would test it.
    source : str
        Whose claim: ``"pliushch"`` (the paper, the specification) or ``"hacohen"``
        (Hacohen et al., :data:`SOURCES`).
    """

    id: str
    statement: str
    quote: str
    location: str
    quantity: str
    test: str
    direction: int = 0
    magnitude: str = ""
    region: tuple[float, float] | None = None
    inside: bool = True
    needs: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    missing: str = ""
    source: str = "pliushch"

    def __post_init__(self):
        if self.test not in TESTS:
            raise ValueError(f"{self.id}: unknown test {self.test!r}; known: {TESTS}")
        if self.test == "directional" and self.direction not in (-1, 1):
            raise ValueError(f"{self.id}: a directional claim needs direction +1 or -1")
        if self.test in ("equivalence", "shape") and self.region is None:
            raise ValueError(f"{self.id}: an {self.test} claim needs a region")
        if self.test == "absent" and not self.missing:
            raise ValueError(f"{self.id}: say what data is missing")
        if self.source not in SOURCES:
            raise ValueError(f"{self.id}: unknown source {self.source!r}; known: "
                             f"{tuple(SOURCES)}")


_TRAINED = (f"{MIN_SEED_GROUPS} seed groups", f"final mean train accuracy >= {FIT_ACCURACY}")

# ------------------------------------------------------------------ the paper's sentences
Q_AGREEMENT = ("As hypothesized, mirroring prior hypothesis of Hacoen et al. [2020], but using "
               "our strict agreement criterion, we found significant agreement during training "
               "of CIFAR10 [Krizhevsky, 2009] on DenseNet121 [Huang et al., 2017], visualized in "
               "figure 2a.")
Q_EARLY = ("Particularly in the first epochs, as the accuracy grows, the area between agreement "
           "and the lower bound, shaded in blue, is the most prominent.")
Q_TEST = ("We observe that for all three datasets (and also for ImageNet, see appendix) there is "
          "sufficiently high agreement on the test set too.")
Q_TEST_SPREAD = "The standard deviation of the accuracy is higher than for all train sets."
Q_DATASETS = ("We have demonstrated agreement on the train (and test set) for CIFAR10, Pascal, "
              "ImageNet and KTH-TIPS dataset.")
Q_ARCH = "Agreement persists also when training different architectures."
Q_ARCH_SIMILAR = "The agreement is similar to that for the same architecture."
Q_SPREAD = ("Note that accuracy deviation has been almost negligible when the same "
            "architectures have been trained.")
Q_COHERENCE = ("To conclude, we have observed a clear gap between theoretical lower-bound and "
               "observed agreement, independence on semantic labels and architecture, even "
               "coherence in between them.")
Q_RANDOM = "Nonetheless, there is still sufficient agreement once accuracy starts to rise."
Q_RANDOM_SLOWER = ("We observe that the accuracy grows at a slower pace and that agreement "
                   "grows more slowly than during training with ground truth labels.")
Q_BATCH = ("Comparison of both figures shows that agreement is present for different "
           "batch-sizes and architectures, as well as that the agreement curve changes "
           "similarly for growing batch-sizes and architecture complexity.")
Q_SPEED = ("[...] suggesting that the capacity of the model, as well as enhanced randomness "
           "when training with smaller batch sizes slow down the learning and, as an effect, "
           "agreement.")
Q_CIFAR_STATS = ("For completeness reasons, in figure 16 one can see that the entropy is almost "
                 "the same around 6.5, while sum of edge strengths, segment count and percentage "
                 "of DCT coefficients decrease slightly.")
Q_SOFT = ("We see a slight downward tendency such that the entropy of soft labels decreases "
          "over the course of training.")
Q_VOC = ("The correlations suggest that as the models learn, they in progression first learn "
         "dataset instances with lower entropy, segment count, number of significant DCT "
         "coefficients and number of instances, meaning that less labels are present in the "
         "same image.")
Q_VOC_BBOX = ("This result is further supported by the bounding box size, where we see an "
              "inverse correlation, such that large objects are learnt first, in agreement with "
              "insights presented in the related work section 4.")
Q_VOC_VSD = ("There is also a correlation between image difficulty (how much time humans need "
             "to find the objects in the image) and agreement, which is consistent with the "
             "other metrics, namely that easy examples are learnt first.")
Q_VOC_INSTANCES = "This is reflected in the correlation, which goes up from 1.1 to 1.4."
Q_VOC_REVERSAL = ('Furthermore, note that particularly for segment count, frequency coefficients '
                  'and "image difficulty" the dataset metric curve first goes down, before it '
                  'reverses its direction for the remainder of epochs.')
Q_VOC_STEPS = ("Since we have chosen a step-wise learning rate scheduler for training, in order "
               "to reach roughly 50 % exact match accuracy on the test set, the step-wise "
               "learning is reflected in the accuracy (red) and agreement curve (blue).")
Q_VOC_GAP = ("Also, the difference between agreement and lower bound (blue shaded area) is "
             "prominent.")
Q_VOC_RESNET = ("We see that ResNet learns more slowly than DenseNet, but the general metrics "
                "tendency remains the same as for DenseNet in figure 4 of the main body.")
Q_VOC_TEST = "For Pascal, we see that [...] there is a correlation present for the test entropy."
Q_FIG17 = ("The KTH-TIPS2b entropy slightly decreases during training, while the Pascal sum of "
           "edge strengths increases, consistent with the trends of other metrics on the "
           "respective datasets.")
Q_TEXTURE = ("The top row shows that for this texture dataset the tendency observed by Pascal is "
             "reversed, such that summed edge strengths, segment count and frequency percentage "
             "are inversely correlated with the dataset metric.")
Q_KTH_FACTORS = ("We observe that texture patterns illuminated from the front are agreed on "
                 "slower than other illumination types and that texture patterns captured from "
                 "the front are agreed on quicker than those captured from either sides.")
Q_KTH_SCALE = "There is no visible correlation for texture scale."
Q_KTH_TEST = ("[...] in figure 7 we see that for the test set this tendency is even more nuanced "
              "such that agreement is highest on the ambient illumination type and lowest on the "
              "frontal illumination type.")
Q_IMAGENET = ("Namely, first objects with higher segment count, entropy and number of relevant "
              "frequency coefficients are learned.")
Q_CLUTTER = ("What we see is that the more cluttered the image, the more irregular the entropy "
             "and segment image becomes.")
Q_CLUTTER_EDGES = ("Cluttered images lead to higher amount of edges, but the edge strengths of "
                   "non-cluttered ones can be more prominent, which in summation may lead to "
                   "similar sum of edge strengths.")
Q_CLUTTER_DCT = ("The DCT coefficients in figure 11 show that the more clutter there is, the "
                 "higher the coefficients in all directions.")
Q_HIST_CIFAR = ("The CIFAR10 histograms show that the frequency and edge strengths "
                "distributions are Gaussian, while the entropy and segment count are more or "
                "less centered on one value.")
Q_HIST_CIFAR10H = "We see that predictive entropy is low for most instances."
Q_HIST_IMAGENET = ("The ImageNet histograms in figure 13 resemble those of CIFAR10 more than "
                   "those of KTH-TIPS2b or Pascal, in that there is no skew of the frequency "
                   "Gaussian and the segment count distribution is irregular-shaped.")
Q_HIST_VOC = ("The Pascal histograms in figure 15 are skewed Gaussians for entropy, segment "
              "count, frequency and human response time, multi-peak Gaussian for edge "
              "strengths, similar to KTH-TIPS2b, as well as more or less centered around one "
              "value for number of instances and bounding box area.")
Q_HIST_KTH = ("The KTH-TIPS2b histograms in figure 14 are more nuanced. The frequency and edge "
              "strengths distributions show several peaks, while the entropy and segment count "
              "exhibit an exponential course.")

#: |skewness| below this reads as symmetric ("Gaussian"), above as skewed: the usual rule of
#: thumb (Bulmer, "Principles of Statistics", 1979: |skew| < 0.5 approximately symmetric).
SKEW_THRESHOLD = 0.5
#: "Similar" agreement: the ratio of the two areas above independence within this margin
#: (the conventional equivalence margin 0.8-1.25 of bioequivalence testing).
SIMILAR_RATIO = (0.8, 1.25)
#: "Similar sum of edge strengths" regardless of clutter: |rho| below this.
NO_RELATION = 0.1
#: "Low" soft-label entropy: below a tenth of its maximum, log2(10) bits.
LOW_SOFT_ENTROPY = 0.1 * 3.321928094887362

_ORDER = ("Spearman rho of the statistic with the agreed-from epoch (+: the agreed set's mean "
          "rises over training); beside it the paper's per-epoch agreed-set curve and the "
          "within-class rho")
_KTH_MISSING = ("KTH-TIPS2-b (illumination, pose and scale per image) is not in the offline "
                "mirror and DTD, its stand-in, has no such factors; get it with "
                "data_scripts/README.md")

SPECIFICATION: tuple[ClaimSpec, ...] = (
    # -- Sec. 3: agreement on CIFAR-10 and its ablations (Figs. 2, 8, 9)
    ClaimSpec("agreement-train-bound", "Agreement exceeds its lower bound on the train set",
              Q_AGREEMENT, "Sec. 3, Fig. 2a", "mean over epochs of TPa minus the lower bound",
              "descriptive", needs=("CIFAR-10",), figures=("fig1_agreement",)),
    ClaimSpec("agreement-train", "Networks agree on the train set more than independent "
              "networks with the same accuracies would", Q_AGREEMENT, "Sec. 3, Fig. 2a",
              "mean over epochs of TPa minus independent networks' TPa", "directional", 1,
              "significant", needs=("CIFAR-10", *_TRAINED), figures=("fig1_agreement",)),
    ClaimSpec("gap-early", "The excess agreement is largest in the first epochs, as accuracy "
              "grows", Q_EARLY, "Sec. 3, Fig. 2a", "mean excess over independence in the first "
              "half of the epochs minus in the second half", "directional", 1,
              "most prominent", needs=("CIFAR-10", *_TRAINED), figures=("fig1_agreement",)),
    ClaimSpec("arch-bound", "Agreement exceeds its lower bound for every architecture", Q_ARCH,
              "Sec. 3, Figs. 2c and 9", "mean over epochs of TPa minus the lower bound",
              "descriptive", needs=("CIFAR-10",), figures=("fig9_architectures",)),
    ClaimSpec("arch", "Agreement persists for every architecture", Q_ARCH,
              "Sec. 3, Figs. 2c and 9", "mean over epochs of TPa minus independent networks' "
              "TPa", "directional", 1, needs=("CIFAR-10", *_TRAINED),
              figures=("fig9_architectures",)),
    ClaimSpec("arch-similar", "Agreement across architectures is similar to agreement within "
              "one", Q_ARCH_SIMILAR, "Sec. 3, Fig. 2c", "area above independence of the mixed "
              "group over that of as many networks of the main study (ratio)", "equivalence",
              magnitude="similar", region=SIMILAR_RATIO, needs=("CIFAR-10", *_TRAINED),
              figures=("fig9_architectures",)),
    ClaimSpec("mixed-agreement", "Networks of different architectures agree with each other",
              Q_COHERENCE, "Sec. 3, Fig. 2c", "area above independence of one network of each "
              "family", "directional", 1, needs=("CIFAR-10", *_TRAINED),
              figures=("fig9_architectures",)),
    ClaimSpec("mixed-spread", "Accuracy deviates little between networks of the same "
              "architecture, more between architectures", Q_SPREAD, "Sec. 3, Fig. 2c",
              "mean std(acc) over epochs, mixed group minus as many networks of the main study",
              "directional", 1, "almost negligible", needs=("CIFAR-10", *_TRAINED),
              figures=("fig9_architectures",)),
    ClaimSpec("capacity-speed", "A model of larger capacity learns more slowly", Q_SPEED,
              "Sec. 3 and App. B, Figs. 8-9", "mean train accuracy over epochs, largest minus "
              "smallest family (by parameter count)", "directional", -1,
              needs=("CIFAR-10", *_TRAINED), figures=("fig9_architectures",)),
    ClaimSpec("random-labels-bound", "With random labels agreement exceeds its lower bound",
              Q_RANDOM, "Sec. 3, Fig. 2b", "mean of TPa minus the lower bound over the epochs "
              "with mean accuracy >= 20%", "descriptive", needs=("CIFAR-10",),
              figures=("fig2_cifar10_ablations",)),
    ClaimSpec("random-labels", "With random labels there is still agreement once accuracy "
              "starts to rise", Q_RANDOM, "Sec. 3, Fig. 2b", "mean excess over independence "
              "over the epochs with mean accuracy >= 20%", "directional", 1, "sufficient",
              needs=("CIFAR-10", *_TRAINED), figures=("fig2_cifar10_ablations",)),
    ClaimSpec("random-labels-slower", "With random labels accuracy and agreement grow more "
              "slowly", Q_RANDOM_SLOWER, "Sec. 3, Fig. 2b", "mean over training (as a fraction "
              "of it) of accuracy, or of TPa, random minus true labels", "directional", -1,
              needs=("CIFAR-10", *_TRAINED), figures=("fig2_cifar10_ablations",)),
    ClaimSpec("batch", "Agreement is present for every batch size", Q_BATCH, "App. B, Fig. 8",
              "mean over epochs of TPa minus independent networks' TPa", "directional", 1,
              needs=("CIFAR-10", *_TRAINED), figures=("fig8_batch_sizes",)),
    ClaimSpec("batch-speed", "Smaller batches slow down learning (and agreement)", Q_SPEED,
              "Sec. 3 and App. B, Fig. 8", "mean train accuracy over epochs, smallest minus "
              "largest batch", "directional", -1, needs=("CIFAR-10", *_TRAINED),
              figures=("fig8_batch_sizes",)),
    # -- App. E, Fig. 16: CIFAR-10 statistics over training
    ClaimSpec("cifar10-stat", "Edge strength, segment count and DCT share of the agreed set "
              "decrease slightly over training", Q_CIFAR_STATS, "App. E, Fig. 16", _ORDER,
              "directional", -1, "slightly", needs=("CIFAR-10", *_TRAINED),
              figures=("fig16_cifar10_statistics",)),
    ClaimSpec("entropy-level", "The agreed set's entropy stays almost the same, around 6.5 "
              "bits", Q_CIFAR_STATS, "App. E, Fig. 16", "range of the agreed set's mean "
              "entropy over the plotted epochs (bits), and its level", "descriptive",
              magnitude="almost the same", needs=("CIFAR-10",),
              figures=("fig16_cifar10_statistics", "fig12_15_histograms")),
    # -- Sec. 6, Fig. 7 and App. E, Fig. 19: test sets
    ClaimSpec("agreement-test-bound", "Agreement exceeds its lower bound on the test set",
              Q_TEST, "Sec. 6, Figs. 7 and 19", "mean over epochs of TPa minus the lower bound "
              "(test set)", "descriptive", figures=("fig7_test_sets",)),
    ClaimSpec("agreement-test", "Networks agree on the test set more than independent networks "
              "would", Q_TEST, "Sec. 6, Figs. 7 and 19", "mean over epochs of TPa minus "
              "independent networks' TPa (test set)", "directional", 1, "sufficiently high",
              needs=_TRAINED, figures=("fig7_test_sets",)),
    ClaimSpec("test-spread", "Accuracy spreads more over the networks on the test set than on "
              "the train set", Q_TEST_SPREAD, "Sec. 6, Fig. 7", "mean over epochs of std(acc), "
              "test minus train", "directional", 1, needs=_TRAINED,
              figures=("fig7_test_sets",)),
    ClaimSpec("soft-label-entropy", "The CIFAR-10H soft-label entropy of the agreed set "
              "decreases slightly over training", Q_SOFT, "Sec. 6, Fig. 7a", _ORDER,
              "directional", -1, "slight", needs=("CIFAR-10", "CIFAR-10H", *_TRAINED),
              figures=("fig7_test_sets",)),
    ClaimSpec("voc-entropy-test", "On the Pascal test set, images with lower entropy are "
              "learned first", Q_VOC_TEST, "Sec. 6, Fig. 7", _ORDER, "directional", 1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig7_test_sets",)),
    # -- Sec. 5, Fig. 4 / 18 / 17b: Pascal VOC
    ClaimSpec("agreement-datasets", "Agreement is present on the train set of every dataset",
              Q_DATASETS, "Sec. 7; Figs. 4-6", "mean over epochs of TPa minus independent "
              "networks' TPa (train set)", "directional", 1, needs=_TRAINED,
              figures=("fig4_pascal", "fig5_kth", "fig6_imagenet")),
    ClaimSpec("voc-gap", "On Pascal VOC the gap between agreement and its lower bound is "
              "prominent", Q_VOC_GAP, "Sec. 5, Fig. 4", "mean over epochs of TPa minus the "
              "lower bound", "descriptive", needs=("Pascal VOC",), figures=("fig4_pascal",)),
    ClaimSpec("voc-entropy", "On Pascal VOC, images with lower entropy are learned first",
              Q_VOC, "Sec. 5, Figs. 4 and 18", _ORDER, "directional", 1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-segments", "On Pascal VOC, images with fewer segments are learned first",
              Q_VOC, "Sec. 5, Figs. 4 and 18", _ORDER, "directional", 1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-dct_share", "On Pascal VOC, images with a lower DCT share are learned "
              "first", Q_VOC, "Sec. 5, Figs. 4 and 18", _ORDER, "directional", 1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-instances", "On Pascal VOC, images with fewer object instances are learned "
              "first", Q_VOC, "Sec. 5, Figs. 4 and 18", _ORDER, "directional", 1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-bbox_area_share", "On Pascal VOC, images with larger objects are learned "
              "first", Q_VOC_BBOX, "Sec. 5, Figs. 4 and 18", _ORDER, "directional", -1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-vsd_score", "On Pascal VOC, images easier for humans to search (Ionescu et "
              "al.) are learned first", Q_VOC_VSD, "Sec. 5, Figs. 4 and 18", _ORDER,
              "directional", 1, needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-edges", "On Pascal VOC the agreed set's sum of edge strengths increases "
              "over training", Q_FIG17, "App. E, Fig. 17b", _ORDER, "directional", 1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    ClaimSpec("voc-instances-range", "On Pascal VOC the agreed set's mean instance count goes "
              "up from 1.1 to 1.4", Q_VOC_INSTANCES, "Sec. 5, Fig. 4", "the agreed set's mean "
              "instance count: its change over the plotted epochs (least-squares line)",
              "directional", 1, "from 1.1 to 1.4", needs=("Pascal VOC", *_TRAINED),
              figures=("fig4_pascal",)),
    ClaimSpec("voc-reversal", "On Pascal VOC the segment, DCT and difficulty curves first go "
              "down, then reverse", Q_VOC_REVERSAL, "Sec. 5, Fig. 4", "the agreed set's curve "
              "over the first third of the plotted epochs (least-squares change, in SDs of the "
              "statistic)", "directional", -1, needs=("Pascal VOC", *_TRAINED),
              figures=("fig4_pascal",)),
    ClaimSpec("voc-lr-steps", "On Pascal VOC agreement jumps where the learning rate steps "
              "down", Q_VOC_STEPS, "Sec. 5, Fig. 4", "mean change of TPa across the epochs "
              "where the learning rate steps down minus its mean change across the other "
              "epochs", "directional", 1, needs=("Pascal VOC", *_TRAINED),
              figures=("fig4_pascal",)),
    ClaimSpec("voc-resnet-slower", "On Pascal VOC ResNet-50 learns more slowly than "
              "DenseNet-121", Q_VOC_RESNET, "App. E, Fig. 18", "mean exact-match train "
              "accuracy over epochs, ResNet-50 minus DenseNet-121", "directional", -1,
              needs=("Pascal VOC", *_TRAINED), figures=("fig4_pascal",)),
    # -- Sec. 5, Figs. 5 and 17a: textures (KTH-TIPS2-b; DTD stands in)
    ClaimSpec("texture-segments", "On textures, images with more segments are learned first "
              "(reversed from Pascal)", Q_TEXTURE, "Sec. 5, Fig. 5", _ORDER, "directional",
              -1, needs=("KTH-TIPS2-b or DTD", *_TRAINED), figures=("fig5_kth",)),
    ClaimSpec("texture-dct_share", "On textures, images with a higher DCT share are learned "
              "first (reversed from Pascal)", Q_TEXTURE, "Sec. 5, Fig. 5", _ORDER,
              "directional", -1, needs=("KTH-TIPS2-b or DTD", *_TRAINED),
              figures=("fig5_kth",)),
    ClaimSpec("texture-edges", "On textures, images with stronger edges are learned first "
              "(reversed from Pascal)", Q_TEXTURE, "Sec. 5, Fig. 5", _ORDER, "directional",
              -1, needs=("KTH-TIPS2-b or DTD", *_TRAINED), figures=("fig5_kth",)),
    ClaimSpec("texture-entropy", "On textures the agreed set's entropy decreases slightly over "
              "training", Q_FIG17, "App. E, Fig. 17a", _ORDER, "directional", -1, "slightly",
              needs=("KTH-TIPS2-b or DTD", *_TRAINED), figures=("fig5_kth",)),
    ClaimSpec("kth-factors", "Textures lit from the front are agreed on more slowly, textures "
              "photographed from the front more quickly", Q_KTH_FACTORS, "Sec. 5, Fig. 5",
              "share of each illumination and pose agreed on per epoch", "absent",
              missing=_KTH_MISSING, figures=("fig5_kth",)),
    ClaimSpec("kth-scale", "Texture scale has no visible relation to agreement", Q_KTH_SCALE,
              "Sec. 5, Fig. 5", "share of each scale agreed on per epoch", "absent",
              missing=_KTH_MISSING, figures=("fig5_kth",)),
    ClaimSpec("kth-test-illumination", "On the KTH test set agreement is highest for ambient "
              "and lowest for frontal illumination", Q_KTH_TEST, "Sec. 6, Fig. 7",
              "share of each illumination agreed on per epoch (test set)", "absent",
              missing=_KTH_MISSING, figures=("fig7_test_sets",)),
    # -- Sec. 5, Fig. 6: ImageNet (Imagenette stands in)
    ClaimSpec("imagenet-segments", "On ImageNet, images with more segments are learned first",
              Q_IMAGENET, "Sec. 5, Fig. 6", _ORDER, "directional", -1,
              needs=("ImageNet or Imagenette", *_TRAINED), figures=("fig6_imagenet",)),
    ClaimSpec("imagenet-entropy", "On ImageNet, images with higher entropy are learned first",
              Q_IMAGENET, "Sec. 5, Fig. 6", _ORDER, "directional", -1,
              needs=("ImageNet or Imagenette", *_TRAINED), figures=("fig6_imagenet",)),
    ClaimSpec("imagenet-dct_share", "On ImageNet, images with a higher DCT share are learned "
              "first", Q_IMAGENET, "Sec. 5, Fig. 6", _ORDER, "directional", -1,
              needs=("ImageNet or Imagenette", *_TRAINED), figures=("fig6_imagenet",)),
    # -- App. C, Figs. 3, 10, 11: the statistics against clutter (no training involved)
    ClaimSpec("clutter-entropy", "Images harder to search have a higher entropy", Q_CLUTTER,
              "App. C, Figs. 3 and 10", "Spearman rho of the Ionescu et al. score with the "
              "mean entropy over the VOC train images", "directional", 1,
              needs=("Pascal VOC",), figures=("fig3_statistics_examples",)),
    ClaimSpec("clutter-segments", "Images harder to search have more segments", Q_CLUTTER,
              "App. C, Figs. 3 and 10", "Spearman rho of the Ionescu et al. score with the "
              "segment count over the VOC train images", "directional", 1,
              needs=("Pascal VOC",), figures=("fig3_statistics_examples",)),
    ClaimSpec("clutter-dct", "Images harder to search have a higher DCT share", Q_CLUTTER_DCT,
              "App. C, Fig. 11", "Spearman rho of the Ionescu et al. score with the DCT share "
              "over the VOC train images", "directional", 1, needs=("Pascal VOC",),
              figures=("fig3_statistics_examples",)),
    ClaimSpec("clutter-edges", "Cluttered and uncluttered images have a similar sum of edge "
              "strengths", Q_CLUTTER_EDGES, "App. C, Fig. 10", "Spearman rho of the Ionescu et "
              "al. score with the crisp-boundary edge strength over the VOC train images",
              "equivalence", magnitude="similar", region=(-NO_RELATION, NO_RELATION),
              needs=("Pascal VOC",), figures=("fig3_statistics_examples",)),
    # -- App. D, Figs. 12-15: the histograms (no training involved)
    ClaimSpec("hist-cifar10-gaussian", "On CIFAR-10 the DCT share and edge strength are "
              "symmetric (Gaussian)", Q_HIST_CIFAR, "App. D, Fig. 12", "skewness over the "
              "train images", "shape", magnitude="Gaussian",
              region=(-SKEW_THRESHOLD, SKEW_THRESHOLD), needs=("CIFAR-10",),
              figures=("fig12_15_histograms",)),
    ClaimSpec("hist-cifar10h-low", "CIFAR-10H soft-label entropy is low for most test images",
              Q_HIST_CIFAR10H, "App. D, Fig. 12", "median soft-label entropy over the test "
              "images (bits); low: below a tenth of log2(10)", "shape", magnitude="low",
              region=(0.0, LOW_SOFT_ENTROPY), needs=("CIFAR-10H",),
              figures=("fig12_15_histograms",)),
    ClaimSpec("hist-imagenet-dct", "On ImageNet the DCT share is not skewed", Q_HIST_IMAGENET,
              "App. D, Fig. 13", "skewness of the DCT share over the train images", "shape",
              region=(-SKEW_THRESHOLD, SKEW_THRESHOLD), needs=("ImageNet or Imagenette",),
              figures=("fig12_15_histograms",)),
    ClaimSpec("hist-voc-skewed", "On Pascal VOC entropy, segment count, DCT share and search "
              "difficulty are skewed", Q_HIST_VOC, "App. D, Fig. 15", "skewness over the train "
              "images", "shape", region=(-SKEW_THRESHOLD, SKEW_THRESHOLD), inside=False,
              needs=("Pascal VOC",), figures=("fig12_15_histograms",)),
    ClaimSpec("hist-kth", "On KTH-TIPS2-b DCT share and edges have several peaks, entropy and "
              "segments an exponential course", Q_HIST_KTH, "App. D, Fig. 14", "histogram "
              "shapes over the KTH-TIPS2-b train images", "absent", missing=(
                  "KTH-TIPS2-b is not in the offline mirror (DTD's textures are another "
                  "dataset; their histograms are shown, not judged); get it with "
                  "data_scripts/README.md"), figures=("fig12_15_histograms",)),
)

# ------------------------------------------------ Hacohen et al.'s claims (their abstract)
QH_ORDER = ("We report a series of robust empirical observations, demonstrating that deep "
            "Neural Networks learn the examples in both the training and test sets in a "
            "similar order.")
QH_ARCH = ("While this phenomenon is strongest for models of the same architecture, it also "
           "crosses architectural boundaries -- models of different architectures start by "
           "learning the same examples, after which the more powerful model may continue to "
           "learn additional examples.")
QH_SYNTHETIC = ("Thus, when fixing the architecture, we show synthetic datasets where this "
                "pattern ceases to exist.")
QH_PARADIGMS = ("When fixing the dataset, we show that other learning paradigms may learn the "
                "data in a different order.")
QH_BENCHMARKS = ("This phenomenon is observed in all the commonly used benchmarks we "
                 "evaluated, including many image classification benchmarks, and one text "
                 "classification benchmark.")

#: Claim 3, "ceases to exist": at most this share of the natural data's excess agreement
#: (above independent networks) may remain on a synthetic dataset.
CEASES_SHARE = 0.25

_H = "Hacohen et al., abstract"
HACOHEN_SPECIFICATION: tuple[ClaimSpec, ...] = (
    ClaimSpec("hacohen-order", "Networks learn the train and the test examples in a similar "
              "order", QH_ORDER, f"{_H} (claim 1)", "Spearman rho of the agreed-from order "
              "between disjoint seed groups of K networks (mean over the pairs)",
              "directional", direction=1, needs=_TRAINED, figures=("hacohen_order",),
              source="hacohen"),
    ClaimSpec("hacohen-arch-first", "Different architectures start by learning the same "
              "examples: the weaker family's agreed set lies inside the stronger's", QH_ARCH,
              f"{_H} (claim 2)", "share of the weaker family's agreed-from-epoch-e examples "
              "that the stronger family has also agreed on by epoch e, minus that share for "
              "independent sets of the same sizes (mean over the epochs)", "directional",
              direction=1, needs=(f"{MIN_SEED_GROUPS} seed groups per family", "the "
                                  "stronger family fits its train set"),
              figures=("hacohen_order",), source="hacohen"),
    ClaimSpec("hacohen-arch-strongest", "The shared order is strongest between networks of the "
              "same architecture", QH_ARCH, f"{_H} (claim 2)", "Spearman rho of the "
              "agreed-from order between seed groups of one family minus that between the "
              "families (one seed group each side)", "directional", direction=1,
              needs=(f"{MIN_SEED_GROUPS} seed groups per family",) + _TRAINED[1:],
              figures=("hacohen_order",), source="hacohen"),
    ClaimSpec("hacohen-synthetic", "With the architecture fixed, the shared order disappears "
              "on synthetic data", QH_SYNTHETIC, f"{_H} (claim 3)", "share of the natural "
              "dataset's excess TP-agreement (above independent networks at the same "
              "accuracies) that remains on a synthetic dataset of its size and dimension, "
              "same MLP", "equivalence", magnitude="ceases to exist",
              region=(-CEASES_SHARE, CEASES_SHARE), needs=_TRAINED,
              figures=("hacohen_order",), source="hacohen"),
    ClaimSpec("hacohen-paradigms", "With the dataset fixed, another learning paradigm "
              "(boosting) learns the examples in a different order", QH_PARADIGMS,
              f"{_H} (claim 4)", "Spearman rho of a network seed group's agreed-from order "
              "with the other network groups' pooled order, minus that of a boosting group "
              "(same data) with the same pooled order", "directional", direction=1,
              needs=_TRAINED, figures=("hacohen_order",), source="hacohen"),
    ClaimSpec("hacohen-benchmarks", "The shared order holds on image benchmarks and on a text "
              "classification benchmark", QH_BENCHMARKS, f"{_H} (claim 5)", "TP-agreement "
              "above independent networks at the same accuracies (mean over the epochs with "
              "mean accuracy in [0.2, 0.99])", "directional", direction=1, needs=_TRAINED,
              figures=("hacohen_order",), source="hacohen"),
)

SPECIFICATION = SPECIFICATION + HACOHEN_SPECIFICATION

SPEC_BY_ID = {spec.id: spec for spec in SPECIFICATION}
if len(SPEC_BY_ID) != len(SPECIFICATION):  # pragma: no cover - caught by the tests
    raise RuntimeError("duplicate claim specification ids")


def spec(spec_id: str) -> ClaimSpec:
    """The specification entry ``spec_id``; a clear error naming the known ids otherwise."""
    try:
        return SPEC_BY_ID[spec_id]
    except KeyError:
        raise KeyError(f"no claim specification {spec_id!r}; known: "
                       f"{', '.join(SPEC_BY_ID)}") from None


def normalise_text(text: str) -> str:
    """Text as quotes are compared with the paper: markdown emphasis dropped, whitespace
    collapsed."""
    return re.sub(r"\s+", " ", text.replace("*", "")).strip()


def quote_parts(quote: str) -> list[str]:
    """The verbatim pieces of a quote (``[...]`` marks a cut)."""
    return [part.strip() for part in quote.split("[...]") if part.strip()]


__all__ = ["ALPHA", "CEASES_SHARE", "FIT_ACCURACY", "HACOHEN_SPECIFICATION", "MIN_SEED_GROUPS",
           "SOURCES", "SPECIFICATION", "SPEC_BY_ID", "TESTS", "VERDICTS", "ClaimSpec",
           "normalise_text", "quote_parts", "spec"]
