"""The findings: every sentence built from table values, on hand-made sweeps with known numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import pairwise
from bench.analysis import Analysis, Options, analyse
from bench.baselines import task_baselines
from bench.collect import collect
from bench.document import format_interval, format_number, format_p_value
from bench.findings import best_row_comparisons, findings
from helpers.results import add_other_lengths, run_record, write_job, write_sweep

# last_k=1: final accuracy is exactly the value written for the last epoch
OPTIONS = Options(last_k=1, n_boot=500)


def analysed(sweep: Path, finals: dict[str, dict[int, float]], **options) -> Analysis:
    write_sweep(sweep, finals, **options)
    return analyse(collect([sweep]), OPTIONS)


def accuracy_of(analysis: Analysis, variant: str) -> str:
    row = analysis.summary.set_index("variant").loc[variant]
    return format_interval(row["final_accuracy_mean"], row["final_accuracy_low"], row["final_accuracy_high"])


def comparison(analysis: Analysis, variant: str, other: str) -> dict:
    both = pairwise.both_ways(analysis.primary)
    return both.loc[(both["variant"] == variant) & (both["other"] == other)].iloc[0].to_dict()


def test_a_clear_best_row_and_what_it_beats(tmp_path):
    finals = {
        "forward": {0: 0.90, 1: 0.91, 2: 0.92, 3: 0.93, 4: 0.91},
        "bidirectional-sum": {0: 0.97, 1: 0.975, 2: 0.99, 3: 0.995, 4: 0.98},
        "bidirectional-concat": {0: 0.95, 1: 0.96, 2: 0.965, 3: 0.97, 4: 0.955},
    }
    analysis = analysed(tmp_path / "sweep", finals)
    text = findings(analysis)
    assert "(epoch 20)" in text[0] and "Student t 95% intervals" in text[0]
    assert text[1].startswith(f"Highest mean: bidirectional-sum, {accuracy_of(analysis, 'bidirectional-sum')}")
    assert "100% of 500 bootstrap resamples of the 5 seeds every row has" in text[1]
    assert text[2] == (
        "bidirectional-sum beats forward, bidirectional-concat (Holm-adjusted p below 0.05). Its difference from "
        "each, win rate and adjusted p are in the table below."
    )
    header, rows = best_row_comparisons(analysis)
    assert header[1:4] == ["bidirectional-sum minus it (Student t 95%)", "better on", "win rate (Clopper-Pearson 95%)"]
    for other, row in zip(("forward", "bidirectional-concat"), rows, strict=True):
        pair = comparison(analysis, "bidirectional-sum", other)
        difference = format_interval(pair["mean_difference"], pair["difference_low"], pair["difference_high"], 4)
        rate = format_interval(pair["win_rate"], pair["win_rate_low"], pair["win_rate_high"], 2)
        assert row == [other, f"+{difference}", "5 of 5 seeds", rate, format_p_value(pair["p_holm"]), "yes"]
    assert rows[0][3] == "1.00 [0.48, 1.00]"
    assert "1: bidirectional-sum; 2: bidirectional-concat; 3: forward." in text[3]
    assert text[-1].startswith("These results hold for this budget (20 epochs, batch size 1) and learning rate 0.001")


def test_rows_the_comparisons_do_not_separate_share_a_rank(tmp_path):
    finals = {
        "forward": {0: 0.80, 1: 0.81, 2: 0.82, 3: 0.83},
        "bidirectional-sum": {0: 0.95, 1: 0.93, 2: 0.96, 3: 0.94},
        "bidirectional-ave": {0: 0.94, 1: 0.95, 2: 0.93, 3: 0.95},
    }
    analysis = analysed(tmp_path / "sweep", finals)
    text = " ".join(findings(analysis))
    row = comparison(analysis, "bidirectional-sum", "bidirectional-ave")
    assert row["p_holm"] >= 0.05 and row["wins"] == 2
    assert (
        "bidirectional-sum beats forward (Holm-adjusted p below 0.05); it is not separated from bidirectional-ave "
        "(Holm-adjusted p at least 0.05)." in text
    )
    _, rows = best_row_comparisons(analysis)
    assert rows[1][0] == "bidirectional-ave" and rows[1][2] == "2 of 4 seeds" and rows[1][-1] == "no"
    assert "1: bidirectional-sum, bidirectional-ave; 3: forward." in text


def test_one_row_has_nothing_to_compare(tmp_path):
    analysis = analysed(tmp_path / "sweep", {"backward": {0: 0.88, 1: 0.9, 2: 0.89}})
    text = findings(analysis)
    assert text[1] == (
        f"Only one row, backward: final held-out accuracy {accuracy_of(analysis, 'backward')} over 3 seeds; "
        "there is nothing to compare it with."
    )
    # 0.89 [0.865, 0.915] contains the position-only accuracy 0.8892
    assert "Against the position-only accuracy 0.8892 (length 10): above it: none; interval containing it: " in text[2]
    assert len(analysis.primary) == 0 and best_row_comparisons(analysis)[1] == []


def test_rows_against_the_baselines_of_variable_lengths(tmp_path):
    finals = {"forward": {0: 0.86, 1: 0.87, 2: 0.865}, "bidirectional-ave": {0: 0.95, 1: 0.96, 2: 0.955}}
    analysis = analysed(tmp_path / "sweep", finals, lengths=range(5, 21))
    text = " ".join(findings(analysis))
    setting = analysis.settings.iloc[0]
    assert setting["position_only"] == pytest.approx(0.82405, abs=1e-5)
    assert setting["position_and_length"] == pytest.approx(0.90665, abs=1e-5)
    assert "Against the position-only accuracy 0.8240 (lengths 5-20): above it: forward, bidirectional-ave." in text
    assert (
        "Against the position-and-length accuracy 0.9066 (lengths 5-20): above it: bidirectional-ave; "
        "below it: forward." in text
    )


def test_held_out_lengths_beyond_training_are_compared_with_their_own_baselines(tmp_path):
    sweep = tmp_path / "sweep"
    finals = {"forward": {0: 0.9, 1: 0.91, 2: 0.92}, "bidirectional-sum": {0: 0.95, 1: 0.96, 2: 0.955}}
    write_sweep(sweep, finals, lengths=[10])
    add_other_lengths(sweep, {"forward": {5: 0.80, 100: 0.55}, "bidirectional-sum": {5: 0.95, 100: 0.985}})
    analysis = analyse(collect([sweep]), Options(last_k=2, n_boot=500))
    table = analysis.by_length.set_index(["variant", "length"])
    # the mean over seeds of the mean of each seed's last two evaluations, and the training length flagged
    assert table.loc[("forward", 100), "accuracy_mean"] == pytest.approx(0.545 + 0.002)
    assert table["trained"].to_dict() == {
        (variant, length): length == 10 for variant in finals for length in (5, 10, 100)
    }
    baselines = analysis.length_baselines.set_index("length")
    at_5, at_100 = task_baselines(0.25, 5).position_only_accuracy, task_baselines(0.25, 100).position_only_accuracy
    assert baselines.loc[5, "position_and_length"] == pytest.approx(at_5)
    assert baselines.loc[100, "position_and_length"] == pytest.approx(at_100)
    assert baselines.loc[[5, 100], "position_only"].isna().all()
    best = table.loc[("bidirectional-sum", 100)]
    interval = format_interval(best["accuracy_mean"], best["accuracy_low"], best["accuracy_high"])
    assert (
        "Outside the training lengths (length 10), the rows whose interval lies above the accuracy of a predictor "
        f"that knows position and length: at 5 steps ({format_number(at_5, 4)}) bidirectional-sum; at 100 steps "
        f"({format_number(at_100, 4)}) bidirectional-sum; at 100 steps the highest mean is bidirectional-sum, "
        f"{interval}."
    ) in findings(analysis)


def test_left_out_runs_are_mentioned_first(tmp_path):
    sweep = tmp_path / "sweep"
    write_sweep(sweep, {"forward": {0: 0.8, 1: 0.82}, "backward": {0: 0.7, 1: 0.75}})
    write_job(sweep / "2", None, run_record("bidirectional-mul", [0]))
    text = findings(analyse(collect([sweep]), OPTIONS))
    assert 'job(s) or seed(s) were left out of the analysis (see "Missing, damaged' in text[0]
    assert text[0].count("1 job(s)") == 1
    assert format_number(0.81, 3) in text[1]
