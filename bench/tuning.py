"""Each variant at its own learning rate: the search, the choice, and the comparison at default and tuned rates.

The protocol (``make tuned``, run by :mod:`bench.tune`):

1. **Search.** Every variant at each learning rate of a grid (``experiment=tuning_search``), on search seeds from
   :data:`SEARCH_FIRST_SEED` on, scored on the validation set (``data.evaluation_set=validation``): sequences
   drawn from streams of their own (:mod:`bench.data`) that no held-out set uses. The search seeds also train on
   batches no reported seed sees, since every stream is keyed by the seed.
2. **Choice.** Per variant, the learning rate with the highest mean validation accuracy over the search seeds,
   each seed's value the mean of its last k evaluations (as "final" is in a report); a tie goes to the smaller
   rate. Nothing else is looked at: no held-out number enters the choice.
3. **Final runs.** Fresh seeds (0 .. n-1, disjoint from the search seeds) at each variant's chosen rate, scored on
   the held-out set, beside the same seeds at the default rate; each comparison is a report of its own, and
   :func:`side_by_side` puts them together.

This module is analysis only: it reads job folders through :mod:`bench.collect` and never imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from bench.analysis import Analysis
from bench.collect import Collection
from bench.intervals import IntervalMethod, interval_columns, mean_interval
from bench.schema import EvaluationSet, TrainConfig
from bench.stats import seed_outcomes
from bench.variants import base_variant, variant_order

# Search seeds start here; reported runs use seeds below it (0 .. n_seeds - 1 by default).
SEARCH_FIRST_SEED = 1000
DEFAULT_LEARNING_RATE = TrainConfig().learning_rate

SEARCH_COLUMNS = [
    "variant",
    "learning_rate",
    "n_seeds",
    "validation_accuracy_mean",
    "validation_accuracy_low",
    "validation_accuracy_high",
    "chosen",
]


class TuningError(ValueError):
    """The search or final runs break the protocol; the message is the one line to print."""


def _per_run(collection: Collection, last_k: int) -> pd.DataFrame:
    """Per used seed: variant (without settings labels), seed, learning_rate, evaluation_set, final_accuracy."""
    outcomes = seed_outcomes(collection.metrics, level=1.0, last_k=last_k)
    runs = collection.runs[["run_dir", "learning_rate", "evaluation_set"]]
    joined = outcomes.merge(runs, on="run_dir", how="left")
    joined["variant"] = joined["variant"].map(base_variant)
    return joined[["variant", "seed", "learning_rate", "evaluation_set", "final_accuracy"]]


def search_table(collection: Collection, method: IntervalMethod, last_k: int) -> pd.DataFrame:
    """The search's result per variant and learning rate, and each variant's choice.

    Args:
        collection: the search sweep's job folders.
        method: how intervals of the mean validation accuracy are made (shown, not used by the choice).
        last_k: each seed's validation accuracy is the mean of its last ``last_k`` evaluations.

    Returns:
        Columns SEARCH_COLUMNS, variants in report order and rates ascending; ``chosen`` marks each variant's
        highest mean (the smaller rate on a tie).

    Raises:
        TuningError: a run of the search was scored on the held-out set, or a search seed lies below
            SEARCH_FIRST_SEED.
    """
    runs = _per_run(collection, last_k)
    scored = set(runs["evaluation_set"].dropna())
    if scored != {EvaluationSet.validation.value}:
        raise TuningError(
            f"the search's runs must score the validation set (data.evaluation_set=validation), found "
            f"{', '.join(sorted(map(str, scored))) or 'no setting'}; run it with experiment=tuning_search"
        )
    if (runs["seed"] < SEARCH_FIRST_SEED).any():
        raise TuningError(
            f"search seed {int(runs['seed'].min())} lies in the range reported runs use; search seeds start at "
            f"{SEARCH_FIRST_SEED}"
        )
    rows = []
    for (variant, rate), group in runs.groupby(["variant", "learning_rate"], sort=True):
        interval = mean_interval(group["final_accuracy"], method)
        rows.append(
            {
                "variant": variant,
                "learning_rate": float(rate),
                "n_seeds": len(group),
                **interval_columns("validation_accuracy", interval),
            }
        )
    table = pd.DataFrame(rows, columns=SEARCH_COLUMNS[:-1])
    best = table.sort_values(["validation_accuracy_mean", "learning_rate"], ascending=[False, True])
    chosen = best.groupby("variant", sort=False).head(1).index
    table["chosen"] = table.index.isin(chosen)
    order = {variant: position for position, variant in enumerate(variant_order(table["variant"]))}
    return table.sort_values(["variant", "learning_rate"], key=lambda c: c.map(order) if c.name == "variant" else c)


def chosen_rates(search: pd.DataFrame) -> dict[str, float]:
    """variant -> its chosen learning rate, in report order."""
    chosen = search.loc[search["chosen"]]
    return dict(zip(chosen["variant"], chosen["learning_rate"], strict=True))


def check_disjoint(search_seeds: Iterable[int], final_seeds: Iterable[int]) -> None:
    """Raises TuningError when a final seed is also a search seed (its batches would have steered the choice)."""
    shared = sorted(set(search_seeds) & set(final_seeds))
    if shared:
        raise TuningError(f"final seed {shared[0]} is also a search seed; final runs need seeds the search never used")


def side_by_side(default: Analysis, tuned: Analysis, search: pd.DataFrame) -> pd.DataFrame:
    """Per variant: the chosen rate, final held-out accuracy at the default rate and at the chosen one, and the
    difference tuned minus default paired by seed, with their intervals (the analyses' method).

    Returns:
        Columns variant, chosen_learning_rate, default_{mean,low,high}, tuned_{mean,low,high}, n_pairs,
        difference_{mean,low,high}; variants in report order.
    """
    rates = chosen_rates(search)
    outcomes = {
        name: analysis.outcomes.assign(variant=analysis.outcomes["variant"].map(base_variant))
        for name, analysis in (("default", default), ("tuned", tuned))
    }
    rows = []
    for variant in variant_order(set(outcomes["default"]["variant"]) & set(outcomes["tuned"]["variant"])):
        row: dict[str, object] = {"variant": variant, "chosen_learning_rate": rates.get(variant)}
        finals = {}
        for name, table in outcomes.items():
            finals[name] = table.loc[table["variant"] == variant].set_index("seed")["final_accuracy"]
            row.update(interval_columns(name, mean_interval(finals[name], default.method)))
        paired = (finals["tuned"] - finals["default"]).dropna()
        row["n_pairs"] = len(paired)
        row.update(interval_columns("difference", mean_interval(paired, default.method)))
        rows.append(row)
    return pd.DataFrame(rows)
