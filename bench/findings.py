"""The findings a report opens with, as sentences built from the analysis's tables and nothing else.

Every number in them is a value of the summary, pairwise, ranking or settings tables, formatted as the tables
format it, so the findings cannot say what the tables do not.
"""

from __future__ import annotations

import pandas as pd

from bench.analysis import Analysis
from bench.document import format_distinct, format_interval, format_number, format_p_value
from bench.pairwise import both_ways
from bench.stats import sorted_by_variant


def _difference(row: pd.Series) -> str:
    sign = "+" if row["mean_difference"] >= 0 else ""
    interval = format_interval(row["mean_difference"], row["difference_low"], row["difference_high"], 4)
    return f"{sign}{interval}"


def best_row_comparisons(analysis: Analysis) -> tuple[list[str], list[list[str]]]:
    """The table under the findings: the row with the highest mean against each other row, as the pairwise table
    gives each pair (header, rows); no rows when there is only one."""
    best = analysis.ranking.table["variant"].iloc[0]
    alpha = 1 - analysis.method.confidence
    method = analysis.method
    header = [
        "other row",
        f"{best} minus it ({method.short})",
        "better on",
        f"win rate (Clopper-Pearson {method.level})",
        "Holm p",
        f"separated (Holm p < {alpha:g})",
    ]
    rows = [
        [
            row["other"],
            _difference(row),
            f"{row['wins']} of {row['n_pairs']} seeds",
            format_interval(row["win_rate"], row["win_rate_low"], row["win_rate_high"], 2),
            format_p_value(row["p_holm"]),
            "yes" if row["p_holm"] < alpha else "no",
        ]
        for _, row in _against_best(analysis, best).iterrows()
    ]
    return header, rows


def _against_best(analysis: Analysis, best: str) -> pd.DataFrame:
    """The primary comparisons of ``best`` with every other row, as best minus the other, in report order."""
    seen = both_ways(analysis.primary)
    return sorted_by_variant(seen.loc[seen["variant"] == best], column="other")


def _accuracy(summary: pd.Series) -> str:
    return format_interval(
        summary["final_accuracy_mean"], summary["final_accuracy_low"], summary["final_accuracy_high"]
    )


def _against_baselines(analysis: Analysis) -> list[str]:
    if len(analysis.settings) > 1:
        return ["The runs use more than one data setting: compare each row with its own setting's baselines."]
    settings = analysis.settings.dropna(subset=["position_only"])
    if settings.empty:
        return []
    setting = settings.iloc[0]
    lines = {"position-only accuracy": setting["position_only"]}
    if setting["min_length"] != setting["max_length"]:
        lines["position-and-length accuracy"] = setting["position_and_length"]
    sentences = []
    summary = analysis.summary
    for name, value in lines.items():
        above = summary.loc[summary["final_accuracy_low"] > value, "variant"].tolist()
        below = summary.loc[summary["final_accuracy_high"] < value, "variant"].tolist()
        # a row of one seed has no interval, so it is neither placed nor said to contain the line
        unplaced = summary.loc[summary["final_accuracy_low"].isna(), "variant"].tolist()
        straddle = summary.loc[~summary["variant"].isin(above + below + unplaced)]
        parts = [f"above it: {', '.join(above) or 'none'}"]
        if below:
            parts.append(f"below it: {', '.join(below)}")
        if not straddle.empty:
            parts.append(
                "interval containing it: "
                + ", ".join(f"{row['variant']} {_accuracy(row)}" for _, row in straddle.iterrows())
            )
        if unplaced:
            parts.append(f"no interval to place (fewer than 2 seeds): {', '.join(unplaced)}")
        sentences.append(f"Against the {name} {format_number(value, 4)} ({setting['lengths']}): {'; '.join(parts)}.")
    return sentences


def _beyond_training(analysis: Analysis) -> list[str]:
    """One sentence on the held-out lengths outside the training range, when there are any (one data setting)."""
    table = analysis.by_length
    if table.empty or len(analysis.settings) != 1 or table["trained"].all():
        return []
    other = table.loc[~table["trained"]]
    baselines = analysis.length_baselines.set_index("length")["position_and_length"]
    lengths = sorted(other["length"].unique())
    per_length = []
    for length in lengths:
        rows = other.loc[other["length"] == length]
        above = rows.loc[rows["accuracy_low"] > baselines[length], "variant"].tolist()
        per_length.append(f"at {length} steps ({format_number(baselines[length], 4)}) {', '.join(above) or 'none'}")
    longest = other.loc[other["length"] == lengths[-1]].sort_values("accuracy_mean", ascending=False).iloc[0]
    interval = format_interval(longest["accuracy_mean"], longest["accuracy_low"], longest["accuracy_high"])
    return [
        f"Outside the training lengths ({analysis.settings.iloc[0]['lengths']}), the rows whose interval lies above "
        f"the accuracy of a predictor that knows position and length: {'; '.join(per_length)}; at {lengths[-1]} "
        f"steps the highest mean is {longest['variant']}, {interval}."
    ]


def _budget(analysis: Analysis) -> str:
    used = analysis.collection.runs.loc[analysis.collection.runs["n_seeds_used"] > 0]
    return (
        f"These results hold for this budget ({format_distinct(used['epochs'])} epochs, batch size "
        f"{format_distinct(used['batch_size'])}) and learning rate {format_distinct(used['learning_rate'])}; "
        "rows still improving at the end may rank differently with more epochs or another learning rate."
    )


def findings(analysis: Analysis) -> list[str]:
    """The report's findings, one sentence (or a few) per item, best row first."""
    summary = analysis.summary.set_index("variant")
    ranking = analysis.ranking.table
    method, alpha = analysis.method, 1 - analysis.method.confidence
    what = (
        f"Final held-out accuracy is the mean of the last {analysis.options.last_k} held-out evaluations "
        f"({analysis.final_epochs}); intervals are {method.describe()}s over seeds."
    )
    problems = analysis.collection.problems
    if not problems.empty:
        what += (
            f' {len(problems)} job(s) or seed(s) were left out of the analysis (see "Missing, damaged, failed and '
            'partial runs").'
        )
    best = ranking.iloc[0]
    best_name = best["variant"]
    if len(ranking) == 1:
        return [
            what,
            f"Only one row, {best_name}: final held-out accuracy {_accuracy(summary.loc[best_name])} over "
            f"{best['n_seeds']} seeds; there is nothing to compare it with.",
            *_against_baselines(analysis),
            *_beyond_training(analysis),
            _budget(analysis),
        ]
    items = [
        what,
        f"Highest mean: {best_name}, {_accuracy(summary.loc[best_name])}; it has the best mean in "
        f"{best['prob_best']:.0%} of {analysis.ranking.resampling}.",
    ]
    own = _against_best(analysis, best_name)
    separated = own["p_holm"].lt(alpha)
    beaten, close = own.loc[separated, "other"].tolist(), own.loc[~separated, "other"].tolist()
    verdict = f"{best_name} beats {', '.join(beaten)} (Holm-adjusted p below {alpha:g})" if beaten else ""
    if close:
        unseparated = f"not separated from {', '.join(close)} (Holm-adjusted p at least {alpha:g})"
        verdict = f"{verdict}; it is {unseparated}" if verdict else f"{best_name} is {unseparated}"
    items.append(f"{verdict}. Its difference from each, win rate and adjusted p are in the table below.")
    groups = ranking.groupby("rank", sort=True)["variant"].apply(lambda names: ", ".join(names))
    items.append(
        "Ranks with ties (1 + the number of rows that beat a row with Holm-adjusted p below "
        f"{alpha:g}): " + "; ".join(f"{rank}: {names}" for rank, names in groups.items()) + "."
    )
    items += _against_baselines(analysis)
    items += _beyond_training(analysis)
    items.append(_budget(analysis))
    return items
