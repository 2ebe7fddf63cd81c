"""csptrain.runs: the run folders' names and records, and when a step of ``csptrain run`` is done."""

from __future__ import annotations

import json
from pathlib import Path

from csptrain.runs import PipelineRuns, PseudoLabelFolder, SeedRuns, StepName, TrainingRun

PROTOCOL = {"name": "single-scale", "scales": [1.0], "flip": False}


def finish_seed(runs: SeedRuns, stop1: int, stop2: int, par: bool = True) -> None:
    """Write the records a finished seed leaves, as the stages write them."""
    runs.stage1.folder.mkdir(parents=True)
    runs.stage1.write_progress(stop1, stop1, {"step": stop1, "loss": 1.0})
    runs.pseudo.folder.mkdir(parents=True)
    runs.pseudo.write_source(runs.pseudo.source_record(stop1, par, "train", "x_scribble_r1"))
    runs.pseudo.write_summary({"miou": 0.5}, runs.stage1.checkpoint, stop1, par)
    runs.stage2.folder.mkdir(parents=True)
    runs.stage2.write_inputs(runs.stage2_inputs(stop1))
    runs.stage2.write_progress(stop2, stop2, None)
    runs.stage2.write_evaluation({"miou": 0.4, "protocol": PROTOCOL}, runs.stage2.checkpoint, stop2)


def test_a_finished_seed_is_done_step_by_step(tmp_path: Path) -> None:
    runs = PipelineRuns(tmp_path).seed(3)
    assert runs.root == tmp_path / "r3"
    assert not any(runs.done(step, 10, 20, True, PROTOCOL) for step in StepName)
    finish_seed(runs, 10, 20)
    assert all(runs.done(step, 10, 20, True, PROTOCOL) for step in StepName)
    assert sorted(p.name for p in runs.stage1.folder.iterdir()) == ["progress.json"]
    assert json.loads(runs.stage2.evaluation_file.read_text())["checkpoint"] == str(tmp_path / "r3/stage2/last.pt")


def test_changed_inputs_undo_the_steps_that_depend_on_them(tmp_path: Path) -> None:
    runs = PipelineRuns(tmp_path).seed(1)
    finish_seed(runs, 10, 20)
    # a longer stage 1: everything after it is stale
    assert [runs.done(step, 12, 20, True, PROTOCOL) for step in StepName] == [False] * 4
    # pseudo-labels without PAR, or from the scribble head: stage 1 stands, what learnt from the labels is stale
    assert [runs.done(step, 10, 20, False, PROTOCOL) for step in StepName] == [True, False, False, False]
    assert [runs.done(step, 10, 20, True, PROTOCOL, "scribble-head") for step in StepName] == [True] + [False] * 3
    # another evaluation protocol: only the evaluation is redone
    other = {**PROTOCOL, "flip": True}
    assert [runs.done(step, 10, 20, True, other) for step in StepName] == [True, True, True, False]


def test_records_from_before_pseudo_sources_mean_the_defaults(tmp_path: Path) -> None:
    runs = PipelineRuns(tmp_path).seed(1)
    finish_seed(runs, 10, 20)
    runs.stage2.write_inputs({"pseudo_step": 10})  # what stage 2 recorded before PAR and sources were
    for record in (runs.pseudo.source_file, runs.pseudo.summary_file):
        record.write_text(json.dumps({k: v for k, v in json.loads(record.read_text()).items() if k != "source"}))
    assert all(runs.done(step, 10, 20, True, PROTOCOL) for step in StepName)
    assert not runs.done(StepName.STAGE2, 10, 20, True, PROTOCOL, "scribble-head")


def test_pseudo_labels_are_complete_only_once_scored(tmp_path: Path) -> None:
    labels = PseudoLabelFolder(tmp_path)
    labels.write_source(labels.source_record(5, True, "train", "s"))
    assert labels.made_by(5, True) and not labels.made_by(5, False)
    assert not labels.complete(5, True)  # labels are written, the summary comes last
    record = labels.write_summary({"miou": 0.25}, tmp_path / "ck.pt", 5, True)
    assert labels.complete(5, True) and record["checkpoint"] == str(tmp_path / "ck.pt")
    assert labels.label("a") == tmp_path / "a.png"


def test_progress_sidecar_and_last_numbers(tmp_path: Path) -> None:
    run = TrainingRun(tmp_path)
    assert run.progress() == {} and not run.reached(1) and run.last_numbers(0) == {"step": 0}
    run.write_progress(7, 9, {"step": 7, "loss": 0.5})
    assert run.reached(7) and not run.reached(8) and run.last_numbers(0) == {"step": 7, "loss": 0.5}
    run.progress_file.write_text("{not json")
    assert run.progress() == {}  # a torn sidecar reads as no checkpoint, never as an error


def test_report_files_are_written_whole(tmp_path: Path) -> None:
    layout = PipelineRuns(tmp_path / "out")
    layout.write_report("table", {"runs": []})
    assert layout.report_text.read_text() == "table\n"
    assert json.loads(layout.report_json.read_text()) == {"runs": []}
    assert sorted(p.name for p in layout.out.iterdir()) == ["report.json", "report.txt"]
