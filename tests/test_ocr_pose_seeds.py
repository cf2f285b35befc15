"""The multi-seed summary of ``reproduce`` runs (examples/ocr_pose/experiments/seeds.py)."""

from __future__ import annotations

import json
import statistics

import pytest

from examples.ocr_pose.experiments import seeds

VARIANTS = ("baseline", "no_decouple", "decouple", "decouple_veclr", "ocr_pose", "supervised")


def _cell(v: float) -> dict:
    return {"p_mpjpe_mm": {"all": v, "visible": v - 1.0}}


def _results(seed: int, values: dict, budget: str = "quick") -> dict:
    """A results.json with P-MPJPE "All" = values[variant] = (unoccluded, N=3)."""
    ev = {k: {"unoccluded": _cell(u), "N=3": _cell(n)} for k, (u, n) in values.items()}
    floors = {"flat": {"unoccluded": _cell(68.0), "N=3": _cell(101.0)}}
    return {"meta": {"seed": seed, "budget": budget, "commit": "abcdef0123", "wall_time_s": 1500.0},
            "evaluation": ev, "floors": floors}


RUN0 = {"baseline": (50.0, 110.0), "no_decouple": (70.0, 75.0), "decouple": (60.0, 70.0),
        "decouple_veclr": (62.0, 72.0), "ocr_pose": (65.0, 71.0), "supervised": (20.0, 40.0)}
RUN1 = {"baseline": (56.0, 90.0), "no_decouple": (72.0, 80.0), "decouple": (68.0, 74.0),
        "decouple_veclr": (64.0, 73.0), "ocr_pose": (24.0, 30.0), "supervised": (19.0, 41.0)}


def _row(text: str, first: str) -> list:
    line = next(l for l in text.splitlines() if l.startswith(f"| {first} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_table_values_mean_and_sample_sd_against_statistics():
    text = seeds.summarise([_results(0, RUN0), _results(1, RUN1)])
    assert "seed 0" in text and "seed 1" in text and "budget `quick`, 2 runs" in text
    row = _row(text, "decouple")  # first table: unoccluded
    assert row[1:3] == ["60.0", "68.0"]
    assert float(row[3]) == pytest.approx(statistics.mean([60.0, 68.0]), abs=0.05)
    assert float(row[4]) == pytest.approx(statistics.stdev([60.0, 68.0]), abs=0.05)
    assert _row(text, "flat")[1:3] == ["68.0", "68.0"]  # floors are listed too


def test_goals_and_ablation_are_evaluated_per_run():
    text = seeds.summarise([_results(0, RUN0), _results(1, RUN1)])
    goal = _row(text, "OCR-Pose unoccluded / supervised unoccluded (goal <= 1.3)")
    assert goal[1:] == [f"{65 / 20:.2f}", f"{24 / 19:.2f}", "1/2"]
    base = _row(text, "baseline N=3 All / its unoccluded (goal >= 2)")
    assert base[1:] == [f"{110 / 50:.2f}", f"{90 / 56:.2f}", "1/2"]
    step = _row(text, "ablation decouple_veclr→ocr_pose, N=3 All (mm; negative = helps)")
    assert step[1:] == ["-1.0", "-43.0", "helps in 2/2"]
    step = _row(text, "ablation no_decouple→decouple, N=3 All (mm; negative = helps)")
    assert step[1:] == ["-5.0", "-6.0", "helps in 2/2"]


def test_image_origin_goal_only_where_every_run_has_the_setting():
    text = seeds.summarise([_results(0, RUN0), _results(1, RUN1)])
    assert "image origin" not in text  # runs from before the setting existed
    runs = [_results(0, RUN0), _results(1, RUN1)]
    for r, v in zip(runs, (260.0, 100.0)):
        r["evaluation"]["baseline"]["N=3, image origin"] = _cell(v)
    row = _row(seeds.summarise(runs), "baseline N=3 All / its unoccluded, missing joints at the "
               "image origin (goal >= 2)")
    assert row[1:] == [f"{260 / 50:.2f}", f"{100 / 56:.2f}", "1/2"]
    del runs[1]["evaluation"]["baseline"]["N=3, image origin"]
    assert "image origin" not in seeds.summarise(runs)


def test_single_run_has_no_standard_deviation():
    text = seeds.summarise([_results(3, RUN0)])
    assert _row(text, "baseline")[1:] == ["50.0", "50.0", "–"]


def test_mixed_budgets_variants_and_empty_input_are_refused():
    with pytest.raises(ValueError, match="budget"):
        seeds.summarise([_results(0, RUN0), _results(1, RUN1, budget="paper")])
    fewer = {k: v for k, v in RUN1.items() if k != "supervised"}
    with pytest.raises(ValueError, match="variants"):
        seeds.summarise([_results(0, RUN0), _results(1, fewer)])
    with pytest.raises(ValueError, match="runs"):
        seeds.summarise([])


def test_cli_reads_run_directories_and_writes_markdown(tmp_path, capsys):
    for s, vals in ((0, RUN0), (1, RUN1)):
        (tmp_path / f"r{s}").mkdir()
        (tmp_path / f"r{s}" / "results.json").write_text(json.dumps(_results(s, vals)))
    out = tmp_path / "seeds.md"
    assert seeds.main([str(tmp_path / "r0"), str(tmp_path / "r1"), "--out", str(out)]) == 0
    assert out.read_text() == capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="results.json"):
        seeds.load_run(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{\"meta\": {}}")
    with pytest.raises(ValueError, match="not a reproduce results file"):
        seeds.load_run(tmp_path / "bad")
