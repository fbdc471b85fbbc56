"""The runs a profile declares: the two models × a list of seeds, and named variants of the recipe.

Every run is a cell of the grid, an independent training with its own checkpoint, history and
evaluation in runs/<profile>/<cell>/. The study's own pair (seed 42, the recipe as stated) is the
primary pair, runs/<profile>/baseline/ and cutmix/ as before: it alone drives the failure cases,
the Grad-CAM figures, the gallery and the wording. The other cells measure how much of each number
is seed noise (3 to 5 seeds is the field's norm: DeVries & Taylor 2017, "Improved Regularization of
Convolutional Neural Networks with Cutout", report the mean of 5 runs for ResNet-18 on CIFAR-100),
and what a change of recipe does (a variant).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipeline.config import MODELS, ConfigError, RunConfig, TrainConfig, run_config

STUDY_SEED = TrainConfig().seed  # the primary pair's seed (seed report, Reproducibility)

# A variant: the model it starts from and the train settings it changes. augmented-baseline is the
# baseline with random crop and flip on, in a profile that trains without them (the CPU study):
# whether the study's 99.8 % train / 60.69 % test split could come from a baseline trained with
# the augmentation its §3 states.
VARIANTS: dict[str, tuple[str, dict]] = {
    "augmented-baseline": ("baseline", {"augment": True}),
}
ABLATION = ("augmented-baseline", STUDY_SEED)  # the variant the report's ablation shows, and its seed

# What every run of the grid is summarised by (pipeline/seeds.py), with the unit each is stated in.
CONFIDENT = (0.9, 0.99)  # the thresholds of each run's confident errors: the study's Table 2 rows

QUANTITIES = (  # each run's row, and the unit each is stated in
    ("test_accuracy", "percent"),
    ("final_train_accuracy", "percent"),
    ("final_val_accuracy", "percent"),
    ("train_val_gap", "points"),
    ("wrong_ge_90", "count"),
    ("wrong_ge_99", "count"),
    ("ece", "percent"),
)


def study_rows(rows: list[dict]) -> list[dict]:
    """The rows of results.json's `runs` that follow the study's recipe (no variant)."""
    return [r for r in rows if r["variant"] is None]


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    model: str  # "baseline" or "cutmix": the model whose config the run starts from
    seed: int  # TrainConfig.seed: model init, batch order, augmentation and CutMix draws
    variant: str | None = None  # a name in VARIANTS; None: the study's recipe

    @property
    def primary(self) -> bool:
        return self.seed == STUDY_SEED and self.variant is None

    @property
    def name(self) -> str:
        """Its folder name: the primary pair keeps the single-run names, the others add the seed."""
        return self.model if self.primary else f"{self.variant or self.model}-seed{self.seed}"


@dataclass(frozen=True)
class Grid:
    seeds: tuple[int, ...] = (STUDY_SEED,)  # both models at each seed; the first is the study's
    variants: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (variant, its seeds)


GRIDS: dict[str, Grid] = {
    "paper": Grid(),
    # 3 seeds per model, and the augmentation ablation at the study's seed: about 25 minutes per
    # run in bf16 on two Zen 4 cores, so the 5 extra runs take an afternoon.
    "cpu-study": Grid(seeds=(42, 43, 44), variants=(("augmented-baseline", (42,)),)),
    "smoke": Grid(seeds=(42, 43)),  # a small grid, so that the tests go through every step
}


def cells(profile: str) -> list[Cell]:
    """The profile's runs: the primary pair first, then the other seeds, then the variants."""
    if profile not in GRIDS:
        raise ConfigError(f"unknown profile {profile!r}: use one of {', '.join(GRIDS)}")
    grid = GRIDS[profile]
    seeded = [Cell(model, seed) for seed in grid.seeds for model in MODELS]
    varied = [Cell(VARIANTS[name][0], seed, name) for name, seeds in grid.variants for seed in seeds]
    return sorted(seeded, key=lambda c: not c.primary) + varied


def cell_config(profile: str, cell: Cell) -> RunConfig:
    """The run config of a cell: the model's config in this profile, with the cell's seed and variant."""
    cfg = run_config(profile, cell.model)
    changes = VARIANTS[cell.variant][1] if cell.variant else {}
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=cell.seed, **changes))


def other_cells(profile: str) -> list[Cell]:
    """The profile's runs beyond the primary pair, in the order they are trained."""
    return [cell for cell in cells(profile) if not cell.primary]
