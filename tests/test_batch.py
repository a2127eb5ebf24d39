"""Tests of msft_cli.batch and the batch side of the CLI: folders, workers, resume, shards.

Clips are short and analysed from 1000 Hz up (``--fmin 1000``), so that each
file takes a fraction of a second. Two tests run ``python -m msft_cli`` as a
real process, to stop it with SIGTERM and with SIGKILL.
"""

import inspect
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from msft_cli import batch, load, save
from msft_cli.batch import BatchReport, parse_shard, plan, shard_of
from msft_cli.batch import manifest as manifest_module
from msft_cli.cli import main
from msft_cli.cli.progress import ConsoleProgress
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ContainerError, ParameterError

REPO = Path(__file__).resolve().parent.parent
SR = 44100
FAST = ("--fmin", "1000")
SUMMARY = re.compile(r"(?P<cmd>\w+): (?P<total>\d+) files?(?: \(shard \d+/\d+\))?: "
                     r"(?P<converted>\d+) converted, (?P<skipped>\d+) skipped, "
                     r"(?P<failed>\d+) failed; [\d.]+ (s|min|h) of audio in [\d.]+ (s|min|h)"
                     r"( \([\d.]+x realtime\))?(?P<rest>.*)")
TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")


# -- helpers ---------------------------------------------------------------------------
def write_clip(path, seconds=0.3, channels=1, seed=0):
    """Noise at 44.1 kHz, PCM_16; returns what soundfile reads back, (channels, samples)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * SR)
    x = np.clip(0.2 * np.random.default_rng(seed).standard_normal((n, channels)), -0.99, 0.99)
    sf.write(str(path), x, SR, subtype="PCM_16")
    return sf.read(str(path), dtype="float64", always_2d=True)[0].T


def tree(root, broken=True):
    """A nested folder of clips (and files a batch must pass over); returns {key: audio}."""
    root = Path(root)
    clips = {"top.wav": write_clip(root / "top.wav", 0.4, 2, 1),
             "drums/kick.wav": write_clip(root / "drums/kick.wav", 0.2, 1, 2),
             "drums/loops/amen.flac": write_clip(root / "drums/loops/amen.flac", 0.3, 1, 3),
             "vocals/take1.wav": write_clip(root / "vocals/take1.wav", 0.25, 2, 4)}
    write_clip(root / "vocals/.hidden.wav", 0.1)
    (root / "notes.txt").write_text("not audio, and not picked")
    if broken:
        (root / "vocals/broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    return clips


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def summary(result):
    line = result.stdout.strip().splitlines()[-1]
    m = SUMMARY.fullmatch(line)
    assert m, line
    return {k: int(v) for k, v in m.groupdict().items() if k not in ("cmd", "rest")} | \
        {"rest": m["rest"]}


def errors(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


def snr(x, y):
    return 20 * np.log10(np.linalg.norm(x) / np.linalg.norm(x - y))


def assert_valid(path, audio):
    """A complete container that gives ``audio`` back to complex64 accuracy."""
    with load(path) as box:
        back = box.to_audio()
    assert back.shape == audio.shape
    assert snr(audio, back) > 120


def files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")
                  if p.is_file())


def manifest(path):
    records, damaged = batch.read_manifest(path)
    assert damaged == 0
    return records


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- shards --------------------------------------------------------------------------
def test_shard_of_is_pinned():
    """The same shards on every machine, Python run and msft version."""
    assert [shard_of(k, 4) for k in ("a/b.wav", "top.wav", "drums/kick.wav")] == [2, 3, 3]
    assert shard_of("x", 1000003) == 309980
    assert shard_of("anything", 1) == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
                min_size=1, max_size=60, unique=True),
       st.integers(1, 9))
def test_shards_are_disjoint_and_cover_every_key(keys, n):
    shards = [{k for k in keys if shard_of(k, n) == i} for i in range(n)]
    assert sum(len(s) for s in shards) == len(keys)
    assert set().union(*shards) == set(keys)
    assert [{k for k in reversed(keys) if shard_of(k, n) == i} for i in range(n)] == shards


@pytest.mark.parametrize("shard, message", [
    ("2/2", "shard=2/2 is out of range: must be I/N with 0 <= I < N"),
    ("-1/3", "shard=-1/3 is out of range: must be I/N with 0 <= I < N"),
    ("0/0", "shard=0/0 is out of range: must be I/N with 0 <= I < N"),
    ("1of2", "shard='1of2' must be I/N, e.g. 0/4 (share I of N, counting from 0)"),
    ((1, 2, 3), "shard=(1, 2, 3) must be I/N or a pair (I, N)"),
])
def test_bad_shards(shard, message):
    with pytest.raises(ParameterError) as info:
        parse_shard(shard)
    assert str(info.value) == message
    assert parse_shard(" 1 / 3 ") == (1, 3) and parse_shard((0, 1)) == (0, 1)


def test_plan_shards_cover_the_tree_exactly_once(tmp_path):
    for i in range(30):
        (tmp_path / "d" / f"s{i % 4}" / f"f{i}.wav").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "d" / f"s{i % 4}" / f"f{i}.wav").write_bytes(b"x" * i)
    everything = plan("analyze", tmp_path / "d", tmp_path / "out")
    assert len(everything) == 30
    shares = [plan("analyze", tmp_path / "d", tmp_path / "out", shard=f"{i}/4") for i in range(4)]
    keys = [t.key for share in shares for t in share]
    assert sorted(keys) == sorted(t.key for t in everything)  # each exactly once
    assert all(share for share in shares)
    assert [t.size for t in everything] == sorted((t.size for t in everything), reverse=True)


# -- planning ------------------------------------------------------------------------
def test_plan_mirrors_the_tree_and_passes_over_other_files(tmp_path):
    tree(tmp_path / "data")
    tasks = plan("analyze", tmp_path / "data", tmp_path / "out")
    got = {t.key: t.output.relative_to(tmp_path / "out").as_posix() for t in tasks}
    assert got == {"top.wav": "top.h5", "drums/kick.wav": "drums/kick.h5",
                   "drums/loops/amen.flac": "drums/loops/amen.h5",
                   "vocals/take1.wav": "vocals/take1.h5", "vocals/broken.wav": "vocals/broken.h5"}
    beside = plan("analyze", tmp_path / "data")
    assert all(t.output == t.source.with_suffix(".h5") for t in beside)
    picked = plan("analyze", tmp_path / "data", glob=["*.txt", "drums/*/*.flac"])
    assert sorted(t.key for t in picked) == ["drums/loops/amen.flac", "notes.txt"]
    images = plan("render", tmp_path / "data", tmp_path / "img", format="svg")
    assert {t.output.name for t in images} >= {"top.svg", "amen.svg"}
    backs = plan("resynth", [tmp_path / "data/top.wav"], tmp_path / "wav")
    assert backs[0].output == tmp_path / "wav" / "top.resynth.wav"


def test_plan_errors(tmp_path):
    tree(tmp_path / "data")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    write_clip(tmp_path / "data" / "top.flac", 0.1)

    def message(*args, **kw):
        with pytest.raises(ParameterError) as info:
            plan(*args, **kw)
        return str(info.value)
    d = tmp_path / "data"
    assert message("analyze", d, tmp_path / "o") == \
        f"{d / 'top.flac'} and {d / 'top.wav'} would both be written to {tmp_path / 'o/top.h5'}"
    assert message("analyze", tmp_path / "empty") == f"{tmp_path / 'empty'}: is a folder, not " \
                                                     "an audio file"
    assert message("resynth", d) == (f"{d}: holds no container (.h5, .hdf5): use --glob to pick "
                                     "other files")
    assert message("analyze", d, glob="*.mp3") == f"{d}: holds no file matching *.mp3"
    assert message("analyze", [d, tmp_path / "nope"]) == f"{tmp_path / 'nope'}: no such file " \
                                                          "or folder"
    assert message("analyze", [d, "-"]) == ("standard input (-) cannot be part of a batch: "
                                            "give files or folders")
    assert message("analyze", d, tmp_path / "file.txt", glob="*.wav") == (
        f"{tmp_path / 'file.txt'}: is a file: for folders or several inputs, the output must "
        "be a folder")
    assert message("analyze", d, tmp_path / "x.h5", glob="*.wav") == (
        f"{tmp_path / 'x.h5'}: must be a folder for folders or several inputs (one output each)")
    assert message("render", d, format="gif", glob="*.wav") == \
        "format='gif' is unknown: must be one of png, svg, pdf (for render)"


# -- the command line ------------------------------------------------------------------
def test_nested_folders_and_a_corrupt_file(here):
    clips = tree(here / "data")
    result = run("analyze", "data", "-o", "out", "-j", "2", *FAST)
    assert result.exit_code == 1, result.output
    [line] = errors(result)
    assert re.fullmatch(r"Error: data/vocals/broken\.wav: not a readable audio file \(.+\)", line)
    s = summary(result)
    assert (s["total"], s["converted"], s["skipped"], s["failed"]) == (5, 4, 0, 1)
    assert s["rest"] == "; manifest out/manifest.jsonl"
    assert files("out") == ["drums/kick.h5", "drums/loops/amen.h5", "manifest.jsonl",
                            "top.h5", "vocals/take1.h5"]
    for key, audio in clips.items():
        assert_valid(here / "out" / Path(key).with_suffix(".h5"), audio)

    records = {r["output"]: r for r in manifest(here / "out/manifest.jsonl")}
    assert sorted(records) == ["drums/kick.h5", "drums/loops/amen.h5", "top.h5",
                               "vocals/broken.h5", "vocals/take1.h5"]
    params = batch.parameters("analyze", {"fmin": 1000.0})
    for out, rec in records.items():
        assert list(rec) == list(batch.RECORD_FIELDS)
        assert rec["command"] == "analyze" and rec["shard"] is None
        assert rec["parameters"] == params and rec["msft_version"]
        assert rec["seconds"] >= 0 and rec["source_sha256"] is None
        src = here / rec["source"]
        assert rec["source_size"] == src.stat().st_size
        assert rec["source_mtime_ns"] == src.stat().st_mtime_ns
        if out == "vocals/broken.h5":
            assert rec["status"] == "failed" and rec["source"] == "data/vocals/broken.wav"
            assert rec["reason"].startswith("data/vocals/broken.wav: not a readable audio file")
            assert rec["duration"] is None and rec["output_size"] is None
        else:
            assert rec["status"] == "ok" and rec["reason"] == ""
            assert rec["duration"] == pytest.approx(clips[rec["source"][5:]].shape[1] / SR)
            assert rec["output_size"] == (here / "out" / out).stat().st_size
            assert rec["output_mtime_ns"] == (here / "out" / out).stat().st_mtime_ns
    assert params["fmin"] == 1000.0 and "threads" not in params and params["dtype"] == "complex64"
    with h5py.File(here / "out/top.h5", "r") as f:  # the container says what it came from
        assert f.attrs["source_size"] == (here / "data/top.wav").stat().st_size
        assert f.attrs["source_mtime_ns"] == (here / "data/top.wav").stat().st_mtime_ns
        assert f.attrs["source_sha256"] == ""
        assert json.loads(f.attrs["analysis_options"]) == params


def test_resume_skips_and_redoes_what_changed(here):
    tree(here / "data", broken=False)
    first = run("analyze", "data", "-o", "out", "-q", *FAST)
    assert first.exit_code == 0 and first.output == ""
    stamps = {p: (here / "out" / p).stat().st_mtime_ns for p in files("out") if p.endswith(".h5")}

    def again(*extra):
        result = run("analyze", "data", "-o", "out", *FAST, *extra)
        assert result.exit_code == 0, result.output
        s = summary(result)
        now = {p: (here / "out" / p).stat().st_mtime_ns for p in stamps}
        changed = sorted(p for p in stamps if now[p] != stamps[p])
        stamps.update(now)
        return s["converted"], s["skipped"], changed

    assert again() == (0, 4, [])
    os.utime(here / "data/drums/kick.wav", ns=(1, 10**18))  # touched: redone
    assert again() == (1, 3, ["drums/kick.h5"])
    assert again("--overwrite") == (4, 0, sorted(stamps))
    assert again("--bins-per-octave", "24") == (4, 0, sorted(stamps))  # other parameters
    assert again("--bins-per-octave", "24", "--threads", "1", "--block-size", "8192") == \
        (0, 4, [])  # speed options do not count
    with load(here / "out/top.h5") as box:
        assert box.transform.bins_per_octave == 24
    # without the manifest, the containers' own attributes tell what they were made from
    (here / "out/manifest.jsonl").unlink()
    assert again("-b", "24") == (0, 4, [])
    # --checksum: the content decides, not the modification time
    assert again("-b", "24", "--checksum") == (4, 0, sorted(stamps))  # no hash stored yet
    os.utime(here / "data/top.wav", ns=(1, 2 * 10**18))
    assert again("-b", "24", "--checksum") == (0, 4, [])
    assert again("-b", "24") == (0, 4, [])  # the manifest: same content at this time
    (here / "out/manifest.jsonl").unlink()
    assert again("-b", "24") == (1, 3, ["top.h5"])  # the container: made from another time


def test_outputs_beside_the_inputs_without_o(here):
    tree(here / "data", broken=False)
    result = run("analyze", "data", "-q", *FAST)
    assert result.exit_code == 0, result.output
    assert "data/drums/loops/amen.h5" in files(here) and "data/manifest.jsonl" in files(here)
    assert "data/top.h5" in files(here)


def test_fail_fast_stops_at_the_first_failure(here):
    tree(here / "data", broken=False)
    (here / "data/aaa.wav").write_bytes(np.random.default_rng(0).bytes(300_000))  # largest
    result = run("analyze", "data", "-o", "out", "-j", "1", "--fail-fast", *FAST)
    assert result.exit_code == 1
    assert len(errors(result)) == 1 and errors(result)[0].startswith("Error: data/aaa.wav: ")
    s = summary(result)
    assert (s["converted"], s["failed"]) == (0, 1)
    assert s["rest"] == "; stopped at the first failure, 4 not done; manifest out/manifest.jsonl"
    assert files("out") == ["manifest.jsonl"]


def test_resynth_a_folder(here):
    clips = tree(here / "data", broken=False)
    assert run("analyze", "data", "-o", "h5", "-q", *FAST).exit_code == 0
    result = run("resynth", "h5", "-o", "wav", "-j", "2")
    assert result.exit_code == 0, result.output
    assert summary(result)["converted"] == 4
    for key, audio in clips.items():
        out = here / "wav" / Path(key).with_name(Path(key).stem + ".resynth.wav")
        back = sf.read(str(out), dtype="float64", always_2d=True)[0].T
        assert np.max(np.abs(back - audio)) <= 1 / 32768
    assert (here / "wav/manifest.jsonl").exists()
    assert summary(run("resynth", "h5", "-o", "wav"))["skipped"] == 4
    result = run("resynth", "h5", "-o", "wav", "--subtype", "FLOAT")
    assert summary(result)["converted"] == 4
    assert sf.info(str(here / "wav/top.resynth.wav")).subtype == "FLOAT"


def test_render_a_folder(here):
    tree(here / "data", broken=False)
    assert run("analyze", "data", "-o", "h5", "-q", *FAST).exit_code == 0
    result = run("render", "h5", "-o", "png", "--raw", "--width", "64", "-q")
    assert result.exit_code == 0 and result.output == ""
    assert files("png") == ["drums/kick.png", "drums/loops/amen.png", "top.png",
                            "vocals/take1.png"]  # no manifest unless asked for
    with_manifest = ("render", "h5", "-o", "png", "--raw", "--width", "64", "--manifest")
    assert summary(run(*with_manifest))["converted"] == 4  # without a record: redrawn
    assert summary(run(*with_manifest))["skipped"] == 4
    assert summary(run(*with_manifest, "--cmap", "gray"))["converted"] == 4


def test_merge_the_manifests_of_shards(here):
    tree(here / "data")
    for i in range(3):
        result = run("analyze", "data", "-o", "out", "--shard", f"{i}/3", "-q", *FAST)
        assert result.exit_code in (0, 1)
    names = sorted(p for p in files("out") if p.startswith("manifest"))
    assert names == ["manifest-0-of-3.jsonl", "manifest-1-of-3.jsonl", "manifest-2-of-3.jsonl"]
    per_shard = [[r["output"] for r in manifest(here / "out" / n)] for n in names]
    assert sorted(sum(per_shard, [])) == ["drums/kick.h5", "drums/loops/amen.h5", "top.h5",
                                          "vocals/broken.h5", "vocals/take1.h5"]
    assert all(r["shard"] == f"{i}/3" for i, n in enumerate(names)
               for r in manifest(here / "out" / n))
    # a second run of shard 0, and a damaged line (a kill during a write)
    run("analyze", "data", "-o", "out", "--shard", "0/3", "-q", *FAST)
    with open(here / "out/manifest-1-of-3.jsonl", "a") as fh:
        fh.write('{"time": "2030-01-01T00:00:00.000Z", "outp')
    result = run("merge-manifests", "out")
    assert result.exit_code == 0, result.output
    n0 = len(per_shard[0])
    assert result.output == (f"3 manifests, {5 + n0} records of 5 files (4 done, 1 failed) -> "
                             "out/manifest-merged.jsonl: 5 records; 1 damaged line passed "
                             "over\n")
    merged = manifest(here / "out/manifest-merged.jsonl")
    assert [r["output"] for r in merged] == sorted(sum(per_shard, []))
    assert all(r["status"] == ("failed" if "broken" in r["output"] else
                               "skipped" if r["output"] in per_shard[0] else "ok")
               for r in merged)
    result = run("merge-manifests", "out/manifest-0-of-3.jsonl", "out/manifest-1-of-3.jsonl",
                 "--all", "-o", "all.jsonl")
    assert result.exit_code == 0, result.output
    assert len(manifest(here / "all.jsonl")) == 2 * n0 + len(per_shard[1])
    result = run("merge-manifests", "data")
    assert result.exit_code == 1
    assert result.output == ("Error: data: holds no manifest (manifest.jsonl or "
                             "manifest-*-of-*.jsonl)\n")


@pytest.mark.parametrize("args, code, message", [
    (["analyze", "data/top.wav", "--shard", "0/2"], 2,
     "Error: --shard applies to folders or several inputs"),
    (["analyze", "data/top.wav", "-j", "2"], 2,
     "Error: --jobs applies to folders or several inputs"),
    (["resynth", "x.h5", "--overwrite"], 2,
     "Error: --overwrite applies to folders or several inputs"),
    (["analyze", "data", "-j", "0"], 1, "Error: jobs=0 must be at least 1"),
    (["analyze", "data", "--shard", "3/3"], 1,
     "Error: shard=3/3 is out of range: must be I/N with 0 <= I < N"),
    (["analyze", "data", "--fmin", "0"], 1, "Error: fmin=0 must be a positive frequency in Hz"),
    (["analyze", "data", "-o", "x.h5"], 1,
     "Error: x.h5: must be a folder for folders or several inputs (one output each)"),
    (["analyze", "data", "-"], 1,
     "Error: standard input (-) cannot be part of a batch: give files or folders"),
    (["resynth", "data", "--glob", "*.wav", "--reference", "data/top.wav"], 1,
     "Error: reference applies to one container, not to a batch"),
    (["render", "data", "--cmap", "nope"], 1,
     "Error: cmap='nope' is unknown: use a matplotlib colormap such as magma, viridis, "
     "inferno, gray or gray_r"),
])
def test_usage_and_option_errors_write_nothing(here, args, code, message):
    tree(here / "data", broken=False)
    before = files(here)
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in errors(result), result.output
    assert files(here) == before


def test_cli_defaults_are_the_librarys():
    library = {k: p.default for k, p in inspect.signature(batch.run).parameters.items()
               if p.default is not inspect.Parameter.empty}
    for command in ("analyze", "resynth", "render"):
        params = {p.name: p for p in main.commands[command].params}
        for name in ("jobs", "overwrite", "fail_fast", "shard", "checksum", "manifest"):
            assert params[name].default == library[name], (command, name)
        assert params["glob"].multiple
    merge = {p.name: p for p in main.commands["merge-manifests"].params}
    assert merge["history"].default is inspect.signature(batch.merge_manifests).parameters[
        "history"].default


# -- workers -------------------------------------------------------------------------
class _KillFirstWorker:
    """A progress object that SIGKILLs the first busy worker it sees (out of memory, say)."""

    def __init__(self):
        self.killed = False
        self.records = []

    def start(self, report):
        pass

    def update(self, report):
        if not self.killed and report.partial_files > 0:
            for p in multiprocessing.active_children():
                if p.name == "msft-batch-worker":
                    os.kill(p.pid, signal.SIGKILL)
                    self.killed = True

    def record(self, rec):
        self.records.append(rec)

    def close(self, report):
        pass


def test_a_dying_worker_fails_only_its_file(tmp_path):
    write_clip(tmp_path / "in/long.wav", 6.0)
    write_clip(tmp_path / "in/a.wav", 0.2)
    write_clip(tmp_path / "in/b.wav", 0.2)
    watcher = _KillFirstWorker()
    report = batch.run("analyze", tmp_path / "in", tmp_path / "out", jobs=1, fmin=1000.0,
                       progress=watcher)
    assert watcher.killed
    assert (report.converted, report.failed, report.exit_status) == (2, 1, 1)
    [failure] = report.failures
    assert failure["reason"] == (f"{tmp_path / 'in/long.wav'}: the worker process died "
                                 "(killed by SIGKILL; out of memory?)")
    assert files(tmp_path / "out") == ["a.h5", "b.h5", "manifest.jsonl"]  # no .part left


def test_console_progress_without_a_terminal(capsys):
    report = BatchReport("analyze", total=3, converted=1, audio_seconds=5400.0)
    progress = ConsoleProgress(every=0.0)
    progress.start(report)
    progress.update(report)
    progress.record({"status": "failed", "reason": "x.wav: broken"})
    report.seconds = 10.0
    progress.close(report)
    out, err = capsys.readouterr()
    assert err.startswith("analyze: 1/3 files, 90.0 min audio, ETA 0:00:")
    assert err.endswith("\nError: x.wav: broken\n")
    assert out == ("analyze: 3 files: 1 converted, 0 skipped, 0 failed; 90.0 min of audio in "
                   "10.0 s (540x realtime)\n")
    quiet = ConsoleProgress(quiet=True, every=0.0)
    quiet.start(report)
    quiet.update(report)
    report.interrupted = "SIGINT"
    quiet.close(report)
    out, err = capsys.readouterr()
    assert out == "" and err == ("Interrupted by SIGINT: 1 converted, 0 skipped, 0 failed, 2 not "
                                 "done: run the same command again to finish\n")
    assert report.exit_status == 130


def test_provenance_attributes_are_documented(tmp_path):
    """docs/FORMAT.md's Provenance attributes: exactly what a batch adds to a container."""
    write_clip(tmp_path / "in/a.wav", 0.2)
    batch.run("analyze", [tmp_path / "in"], tmp_path / "out", fmin=1000.0, manifest=False)
    plain = save(MSFT(SR, fmin=1000.0).forward(np.zeros(100)), tmp_path / "plain.h5")
    with h5py.File(tmp_path / "out/a.h5", "r") as f, h5py.File(plain, "r") as g:
        added = set(f.attrs) - set(g.attrs)
    doc = (REPO / "docs/FORMAT.md").read_text()
    section = re.search(r"^## Provenance attributes\n(.*?)(?=^## )", doc, re.M | re.S).group(1)
    assert set(re.findall(r"^\| `(\w+)` \|", section, re.M)) == added
    assert files(tmp_path / "out") == ["a.h5"]  # manifest=False


# -- as real processes: SIGTERM, then kill -9 ------------------------------------------
@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["MSFT_CACHE_DIR"] = str(tmp_path_factory.mktemp("msft-cache-batch"))
    return env


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """16 clips of 0.6 s in 3 folders, and their audio."""
    root = tmp_path_factory.mktemp("dataset")
    clips = {f"set{i % 3}/clip{i:02d}.wav": write_clip(root / f"data/set{i % 3}/clip{i:02d}.wav",
                                                       0.6, 1 + i % 2, i) for i in range(16)}
    return root / "data", clips


def start(env, cwd, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "msft_cli", *map(str, args)], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def wait_for_output(proc, out, pattern="*.h5", timeout=120):
    """Wait until the batch has written something matching ``pattern`` under ``out``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the batch ended before it was stopped: {proc.communicate()}")
        if out.exists() and any(out.rglob(pattern)):
            return
        time.sleep(0.01)
    pytest.fail("the batch wrote nothing")


def finish(env, cwd, data, out):
    done = subprocess.run([sys.executable, "-m", "msft_cli", "analyze", str(data), "-o", str(out),
                           "-j", "2", *FAST], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return summary(done)


def test_sigterm_stops_cleanly_and_a_rerun_finishes(tmp_path, env, dataset):
    data, clips = dataset
    out = tmp_path / "out"
    proc = start(env, tmp_path, "analyze", data, "-o", out, "-j", "2", *FAST)
    wait_for_output(proc, out)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stdout) == (128 + signal.SIGTERM, ""), stderr
    m = re.fullmatch(r"Interrupted by SIGTERM: (\d+) converted, 0 skipped, 0 failed, (\d+) not "
                     r"done: run the same command again to finish\n", stderr)
    assert m, stderr
    assert int(m[1]) + int(m[2]) == 16 and int(m[2]) > 0, stderr
    present = [p for p in files(out) if p.endswith(".h5")]
    assert not [p for p in files(out) if p.endswith(".part")], files(out)
    assert len(present) >= int(m[1]), (stderr, present)  # one may finish as it is stopped
    for p in present:
        assert_valid(out / p, clips[p[:-3] + ".wav"])
    s = finish(env, tmp_path, data, out)
    assert (s["converted"], s["skipped"], s["failed"]) == (16 - len(present), len(present), 0), \
        (s, stderr, present)
    assert s["rest"] == f"; manifest {out / 'manifest.jsonl'}"
    for key, audio in clips.items():
        assert_valid(out / key.replace(".wav", ".h5"), audio)
    latest = manifest_module._latest(manifest(out / "manifest.jsonl"))
    assert sorted(latest) == sorted(k.replace(".wav", ".h5") for k in clips)


def test_kill_9_leaves_only_part_files_that_the_next_run_removes(tmp_path, env, dataset):
    data, clips = dataset
    out = tmp_path / "out"
    (out / "set1").mkdir(parents=True)
    stale = out / "set1" / ".clip04.h5.ab12cd_3.part"  # an older run's leftover
    stale.write_bytes(b"half a container")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    foreign = [out / ".someone_else.h5.ab12cd34.part", out / "set1" / "notes.part"]
    for f in foreign:
        f.write_text("not ours")
    proc = start(env, tmp_path, "analyze", data, "-o", out, "-j", "2", *FAST,
                 start_new_session=True)
    wait_for_output(proc, out / "set0", "*.part")
    os.killpg(proc.pid, signal.SIGKILL)  # the parent, its workers, all at once
    proc.communicate(timeout=60)
    for p in files(out):
        name = Path(p).name
        if p.endswith(".h5"):
            assert_valid(out / p, clips[p[:-3] + ".wav"])  # complete, or absent
        else:
            assert name == "manifest.jsonl" or TEMP.match(name) or out / p in foreign, p
    s = finish(env, tmp_path, data, out)
    assert s["failed"] == 0 and s["converted"] + s["skipped"] == 16
    assert "temporary file" in s["rest"] and "of an interrupted run" in s["rest"]
    assert not stale.exists() and all(f.exists() for f in foreign)
    assert sorted(files(out)) == sorted(
        [k.replace(".wav", ".h5") for k in clips] + ["manifest.jsonl"]
        + [f.relative_to(out).as_posix() for f in foreign])
    for key, audio in clips.items():
        assert_valid(out / key.replace(".wav", ".h5"), audio)


# -- the examples ------------------------------------------------------------------------
def test_the_slurm_array_and_gnu_parallel_examples(tmp_path, env):
    """examples/: each array task does its share; the shares and the merge cover the tree."""
    clips = tree(tmp_path / "data", broken=False)
    env = dict(env, MSFT=f"{sys.executable} -m msft_cli")
    script = REPO / "examples" / "slurm_array.sh"
    for task in (5, 6):  # an array 5-6: shares 0/2 and 1/2
        slurm = dict(env, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_MIN="5",
                     SLURM_ARRAY_TASK_MAX="6", SLURM_ARRAY_TASK_COUNT="2",
                     SLURM_ARRAY_TASK_STEP="1", SLURM_CPUS_PER_TASK="1")
        done = subprocess.run(["bash", str(script), "data", "out", "-q", *FAST], cwd=tmp_path,
                              env=slurm, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"task {task}: share {task - 5}/2 of data -> out, 1 workers\n"
    assert sorted(p for p in files(tmp_path / "out") if p.startswith("manifest")) == \
        ["manifest-0-of-2.jsonl", "manifest-1-of-2.jsonl"]
    for key, audio in clips.items():
        assert_valid(tmp_path / "out" / Path(key).with_suffix(".h5"), audio)

    # shares named by task id (a rerun of some shares): --array=1 with MSFT_SHARDS=2
    slurm = dict(env, SLURM_ARRAY_TASK_ID="1", SLURM_ARRAY_TASK_MIN="1",
                 SLURM_ARRAY_TASK_MAX="1", SLURM_ARRAY_TASK_COUNT="1", MSFT_SHARDS="2")
    done = subprocess.run(["bash", str(script), "data", "out", "-q", *FAST], cwd=tmp_path,
                          env=slurm, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "task 1: share 1/2 of data -> out, 1 workers\n"

    done = subprocess.run(["bash", str(REPO / "examples" / "gnu_parallel.sh"), "data", "par",
                           "2", *FAST], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("records of 4 files (4 done, 0 failed) -> "
                                "par/manifest-merged.jsonl: 4 records\n"), done.stdout
    merged = manifest(tmp_path / "par/manifest-merged.jsonl")
    assert sorted(r["output"] for r in merged) == sorted(
        Path(k).with_suffix(".h5").as_posix() for k in clips)
    assert {r["shard"] for r in merged} <= {"0/2", "1/2"}


@pytest.mark.parametrize("array, ids, message", [
    ("0-6:2", dict(SLURM_ARRAY_TASK_MIN="0", SLURM_ARRAY_TASK_MAX="6",
                   SLURM_ARRAY_TASK_COUNT="4", SLURM_ARRAY_TASK_STEP="2"),
     "the array (4 tasks from 0 to 6, step 2)"),
    ("1,3,4", dict(SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_MAX="4",
                   SLURM_ARRAY_TASK_COUNT="3", SLURM_ARRAY_TASK_STEP="1"),
     "the array (3 tasks from 1 to 4, step 1)"),
])
def test_the_slurm_example_refuses_arrays_with_a_step_or_a_list(tmp_path, env, array, ids,
                                                                 message):
    """Their ranks would not cover the shares: refused in one line before any file."""
    (tmp_path / "data").mkdir()
    slurm = dict(env, MSFT=f"{sys.executable} -m msft_cli", SLURM_ARRAY_TASK_ID="4", **ids)
    done = subprocess.run(["bash", str(REPO / "examples" / "slurm_array.sh"), "data", "out"],
                          cwd=tmp_path, env=slurm, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    count = ids["SLURM_ARRAY_TASK_COUNT"]
    assert done.stderr == (f"slurm_array.sh: {message} has a step or a list: its tasks would "
                           f"miss shares; use --array=0-{int(count) - 1} (or MSFT_SHARDS=N to "
                           "name shares by task id)\n")
    assert not (tmp_path / "out").exists()


def test_the_slurm_example_stops_well_before_short_time_limits():
    script = (REPO / "examples" / "slurm_array.sh").read_text()
    lead = int(re.search(r"^#SBATCH --signal=B:TERM@(\d+)$", script, re.MULTILINE).group(1))
    assert lead <= 30  # plus Slurm's up to 60 s early: still inside a 2.5-minute limit
    assert "scancel --batch -s TERM" in script


def test_merging_what_is_not_there_raises_a_container_error(tmp_path):
    with pytest.raises(ContainerError, match=re.escape(f"{tmp_path / 'nope'}: no such file")):
        batch.merge_manifests([tmp_path / "nope"])
    with pytest.raises(ContainerError, match="holds no manifest"):
        batch.merge_manifests([tmp_path])


def test_parameters_leave_out_what_older_manifests_lack():
    """The transform's newer parameters (gamma, oversample) and the reading options at their
    defaults are left out of a record, so outputs made before they existed stay up to date;
    given otherwise, they count."""
    from msft_cli.batch import parameters
    plain = parameters("analyze", {})
    assert not {"gamma", "oversample", "sr", "mono", "offset", "duration"} & set(plain)
    assert parameters("analyze", {"gamma": 10.0})["gamma"] == 10.0
    assert parameters("analyze", {"oversample": 2})["oversample"] == 2
