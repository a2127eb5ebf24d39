"""The atomic writer, the temporary-name pattern and the folder walk (msft_cli._files)."""

import os
import stat
from pathlib import Path

import pytest

from msft_cli._files import TEMP_NAME, AtomicWrite, temporary_name, walk, write_text
from msft_cli.errors import AudioError, ContainerError, ParameterError


def _mode(path):
    umask = os.umask(0)
    os.umask(umask)
    return stat.S_IMODE(path.stat().st_mode), 0o666 & ~umask


def test_a_write_appears_whole_with_the_usual_permissions(tmp_path):
    target = tmp_path / "a.txt"
    with AtomicWrite(target, ContainerError) as out:
        assert TEMP_NAME.match(Path(out.tmp).name)
        assert temporary_name(Path(out.tmp).name) == "a.txt"
        assert Path(out.tmp).parent == tmp_path
        Path(out.tmp).write_text("hello")
        assert not target.exists()
    assert target.read_text() == "hello"
    assert os.listdir(tmp_path) == ["a.txt"]
    got, expected = _mode(target)
    assert got == expected


def test_write_text_replaces_a_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    assert write_text(target, "new ü") == target
    assert target.read_text(encoding="utf-8") == "new ü"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_failure_leaves_nothing_and_the_old_file_as_it_was(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with AtomicWrite(target) as out:
            Path(out.tmp).write_text("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == ["a.txt"]
    assert target.read_text() == "old"


def test_an_os_error_inside_becomes_the_error_asked_for(tmp_path):
    target = tmp_path / "a.wav"
    with pytest.raises(AudioError, match=r"a.wav: cannot write \(No space left on device\)"):
        with AtomicWrite(target, AudioError):
            raise OSError(28, "No space left on device")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "no" / "x.h5", "{d}/no/x.h5: the folder {d}/no does not exist"),
    (lambda d: (d / "x.h5").mkdir() or d / "x.h5", "{d}/x.h5: is a folder"),
])
def test_folder_checks(tmp_path, make, message):
    with pytest.raises(ContainerError) as err:
        AtomicWrite(make(tmp_path), ContainerError)
    assert str(err.value) == message.format(d=tmp_path)


def test_temporary_name():
    assert temporary_name(".song.h5.abc_1234.part") == "song.h5"
    assert temporary_name("song.h5") is None
    assert temporary_name(".song.h5.abc.part") is None


def _tree(root, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_walk_recurses_skips_hidden_and_lists_files_before_subfolders(tmp_path):
    _tree(tmp_path, ["b.wav", "a/x.wav", "a/.y.wav", ".hidden/z.wav", "c.wav",
                     "a/deeper/w.wav", "B/v.wav"])
    assert [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path)] == [
        "b.wav", "c.wav", "B/v.wav", "a/x.wav", "a/deeper/w.wav"]


def test_walk_does_not_follow_links_to_folders(tmp_path):
    _tree(tmp_path, ["a/x.wav"])
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    (tmp_path / "link.wav").symlink_to(tmp_path / "a" / "x.wav")
    assert [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path)] == [
        "link.wav", "a/x.wav"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any folder")
def test_walk_reports_a_folder_it_cannot_list(tmp_path):
    _tree(tmp_path, ["locked/x.wav"])
    (tmp_path / "locked").chmod(0)
    try:
        with pytest.raises(ParameterError, match=r"locked: cannot list \(Permission denied\)"):
            list(walk(tmp_path))
    finally:
        (tmp_path / "locked").chmod(0o755)
