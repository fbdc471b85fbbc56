"""The report's outline: its sections, figures and tables, each in report order.

The one list of the figures' names is FIGURE_ALT's keys (FIGURE_NAMES): the context numbers the
figures by it, report.figures.registry finds each figure's function by it, and
report.figures.drawing draws them in its order. Plain data, so that importing it costs nothing.
"""

from __future__ import annotations

# (id, title, partial): the study's sections in its order, then the analyses beyond it.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("about", "What This Report Is About", "_sections/_about.html"),
    ("why", "Why CIFAR-100 and ResNet-18?", "_sections/_why.html"),
    ("baseline", "Baseline: A Competitive Starting Point", "_sections/_baseline.html"),
    ("failures", "Where Does It Go Wrong?", "_sections/_failures.html"),
    ("gradcam", "Opening the Black Box: Grad-CAM", "_sections/_gradcam.html"),
    ("fix", "The Fix: CutMix Augmentation", "_sections/_fix.html"),
    ("compare", "Head-to-Head: Baseline vs. CutMix", "_sections/_compare.html"),
    ("learned", "What We Learned", "_sections/_learned.html"),
    ("beyond", "Beyond the Study", "_sections/_beyond.html"),
)

# Figures in report order, with their alt text. A figure's name is the name of the function that
# draws it (report/figures/registry.py).
FIGURE_ALT: dict[str, str] = {
    "training_baseline": "Two line charts of the baseline's loss and accuracy per epoch, training against "
    "validation, with the learning-rate drops marked.",
    "failure_cases": "The failure cases' images, each titled with its test ID, true class, predicted class "
    "and confidence.",
    "gradcam_failures": "Each failure case's image overlaid with the baseline's Grad-CAM heat map for its "
    "wrong predicted class.",
    "training_cutmix": "Two line charts of the CutMix model's loss and accuracy per epoch, training against "
    "validation, with the learning-rate drops marked.",
    "gradcam_compare": "Grad-CAM heat maps of the cases both models get wrong: baseline in the top row, "
    "CutMix in the bottom row, on one colour scale.",
    "confidence_histograms": "Histograms of prediction confidence for wrong predictions (left) and correct "
    "predictions (right), baseline against CutMix.",
    "wrong_by_threshold": "Grouped bar chart of the number of wrong predictions at or above each confidence "
    "threshold, baseline against CutMix, with the relative change above each pair.",
    "per_class_change": "Bar chart of the accuracy change of every class, sorted from largest gain to "
    "largest loss, improved classes in green and regressed ones in red, extremes labelled.",
    "reliability": "Four reliability diagrams: accuracy against confidence per bin for each model, before "
    "and after temperature scaling, with the diagonal of perfect calibration.",
    "risk_coverage": "Risk–coverage curves of both models, with the operating point of the confidence "
    "guardrail marked on each.",
    "seed_dots": "Dot plots of the test accuracy, train–val gap, confident errors and calibration error "
    "of every seed's run, baseline against CutMix, with the study's seed filled and the mean marked.",
    "ablation_curves": "Two line charts of the baseline's loss and accuracy per epoch without and with "
    "random crop and flip, training against validation.",
    "attention_spread": "Histograms of the normalised entropy of the Grad-CAM maps, for all test images and "
    "for wrong predictions, baseline against CutMix.",
    "gallery": "The baseline's most confidently wrong test images, each titled with the true class and "
    "both models' predictions and confidences.",
}
FIGURE_NAMES: tuple[str, ...] = tuple(FIGURE_ALT)

# Tables in report order: Tables 1–3 are the study's.
TABLES = (
    "hypotheses",
    "summary",
    "cases_after",
    "calibration",
    "guardrail",
    "uncertainty",
    "seeds",
    "ablation",
    "confusions",
    "gallery",
    "settings",
    "provenance",
    "checks",
    "statements",
    "identities",
    "per_class",
)
