"""File helpers: staged folders that appear whole or not at all, atomic text, sha256."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from edge_gemma.errors import OutputError
from edge_gemma.files import check_writable_parent, file_sha256, staged_directory, write_text_atomic


def test_staged_directory_appears_whole_and_leaves_no_scratch(tmp_path):
    target = tmp_path / "out" / "export"  # the parent is created
    with staged_directory(target) as (work, result):
        (work / "scratch.bin").write_bytes(b"x")
        (result / "model.xml").write_text("m")
        assert not target.exists()  # nothing is visible until the end
    assert [p.name for p in target.iterdir()] == ["model.xml"]
    assert [p.name for p in target.parent.iterdir()] == ["export"]  # the hidden sibling is gone


def test_existing_target_is_replaced_only_on_success(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with staged_directory(target) as (_, result):
        (result / "new.txt").write_text("new")
        assert (target / "old.txt").read_text() == "old"
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failure_leaves_the_target_untouched_and_nothing_else(tmp_path, error):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(error):
        with staged_directory(target) as (_, result):
            (result / "half.bin").write_bytes(b"half")
            raise error
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    fresh = tmp_path / "fresh"
    with pytest.raises(error):
        with staged_directory(fresh):
            raise error
    assert not fresh.exists() and [p.name for p in tmp_path.iterdir()] == ["export"]


def test_an_output_under_a_file_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=r"a-file is a file, not a folder; pick an --output"):
        check_writable_parent(blocker / "export")
    with pytest.raises(OutputError, match=r"cannot create .*a-file/sub \(Not a directory\); pick an --output"):
        check_writable_parent(blocker / "sub" / "export")
    with pytest.raises(OutputError):
        with staged_directory(blocker / "export"):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_write_text_atomic_replaces_whole_files_readable_by_all(tmp_path):
    path = tmp_path / "yaml" / "m.yaml"
    write_text_atomic(path, "one\n")
    write_text_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with pytest.raises(TypeError):
        write_text_atomic(path, b"not text")  # fails while writing
    assert path.read_text() == "two\n" and [p.name for p in path.parent.iterdir()] == ["m.yaml"]


def test_file_sha256_reads_in_blocks(tmp_path):
    path = tmp_path / "data.bin"
    data = bytes(range(256)) * 41
    path.write_bytes(data)
    assert file_sha256(path, block=100) == file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_the_error_names_the_fix_the_caller_gives(tmp_path):
    # The GGUF conversion cache is not an --output: its error says which setting to change.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=r"is a file, not a folder; set EDGE_GEMMA_CACHE"):
        with staged_directory(blocker / "checkpoint", fix="set EDGE_GEMMA_CACHE to a writable folder"):
            pass


def _make_once(target: str) -> None:
    import time

    from edge_gemma.files import one_process_at_a_time

    target = Path(target)
    with one_process_at_a_time(target):
        if not target.exists():
            time.sleep(1.5)  # long enough for the other process to arrive meanwhile
            with open(target.parent / "made", "a") as f:
                f.write("x")
            target.write_text("done")


def test_two_processes_make_a_cache_entry_once(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_make_once, args=(str(tmp_path / "entry"),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert (tmp_path / "made").read_text() == "x" and (tmp_path / "entry").read_text() == "done"


def test_a_cache_entry_written_meanwhile_is_kept(tmp_path):
    target = tmp_path / "entry"
    with staged_directory(target, keep_existing=True) as (_, result):
        (result / "mine").write_text("1")
        target.mkdir()  # another process finished first
        (target / "theirs").write_text("2")
    assert [p.name for p in target.iterdir()] == ["theirs"]
