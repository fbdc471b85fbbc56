"""The measures the analysis (pipeline/analysis.py) takes of scored predictions and Grad-CAM maps;
numpy only, each a pure function of arrays.

    calibration.py  ECE, MCE, reliability bins, NLL, Brier score, temperature scaling
    selective.py    wrong answers above confidence thresholds, a guardrail, risk-coverage
    stats.py        a paired bootstrap interval and McNemar's exact test
    migration.py    images corrected and regressed between the models, per class too
    confusions.py   the most frequent confusions and those inside a superclass
    attention.py    how spread out a Grad-CAM map is
"""
