"""Job folder files: whole or absent, readable like any other file, strict JSON."""

import json
import os

from bench import store


def test_written_files_are_whole_and_carry_the_usual_permissions(tmp_path):
    store.write_atomic(tmp_path / "a" / "note.txt", "complete\n")
    written = tmp_path / "a" / "note.txt"
    assert written.read_text() == "complete\n"
    umask = os.umask(0)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in written.parent.iterdir()] == ["note.txt"]


def test_run_json_is_strict_json_with_null_for_undefined_numbers(tmp_path):
    store.write_run(tmp_path, {"status": "completed", "ms_per_epoch": float("nan"), "nested": [float("inf"), 1.5]})
    text = (tmp_path / store.RUN_FILE).read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"status": "completed", "ms_per_epoch": None, "nested": [None, 1.5]}
    assert store.read_run(tmp_path)["status"] == "completed"


def test_completed_needs_a_completed_record_of_the_same_config(tmp_path):
    store.write_run(tmp_path, {"status": "completed", "config_hash": "abc"})
    assert store.is_completed(tmp_path, "abc")
    assert not store.is_completed(tmp_path, "other")
    store.write_run(tmp_path, {"status": "interrupted", "config_hash": "abc"})
    assert not store.is_completed(tmp_path, "abc")
    (tmp_path / store.RUN_FILE).write_text("{broken")
    assert store.read_run(tmp_path) is None and not store.is_completed(tmp_path, "abc")
