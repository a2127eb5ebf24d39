"""The documentation builds without a warning, and docs/commands.md is every command's --help."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from msft_cli.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def _command_reference():
    spec = importlib.util.spec_from_file_location(
        "command_reference", ROOT / "scripts" / "command_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_build_without_warnings(tmp_path):
    """`make docs`'s build (Sphinx, numpydoc, myst-parser): warnings are errors."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(tmp_path / "html")],
        capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    html = (tmp_path / "html" / "api" / "msft_cli.html").read_text(encoding="utf-8")
    for name in ("MSFT", "Coefficients", "Container", "Crop", "analyze", "resynth", "load",
                 "save", "save_arrays", "info", "default_fmin", "MsftError", "ParameterError"):
        assert f'id="msft_cli.{name}"' in html, name
    for page in ("phase", "render", "dataset", "batch", "learn_dft", "container"):
        assert (tmp_path / "html" / "api" / f"{page}.html").is_file(), page


def test_command_reference_is_up_to_date():
    """docs/commands.md is what scripts/command_reference.py writes now (`make commands`)."""
    committed = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert committed == _command_reference().reference(), (
        "docs/commands.md is out of date: run `make commands`")


def test_command_reference_names_every_command():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    documented = re.findall(r"^## `msft (\S+)`$", text, re.MULTILINE)
    assert documented == list(COMMANDS)
    for name in COMMANDS:
        assert f"Usage: msft {name} [OPTIONS]" in text, name


def test_readme_links_the_documentation():
    """The landing page keeps the set-up commands and links every documentation page."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    for page in ("docs/commands.md", "docs/usage.md", "docs/FORMAT.md", "docs/DATASET.md",
                 "docs/benchmarks.md", "docs/DESIGN.md", "docs/phase.md", "docs/learn_dft.md"):
        assert f"({page}" in readme, page
        assert (ROOT / page).is_file(), page
    assert len(readme.splitlines()) <= 250


def test_readme_python_quickstart_runs(tmp_path, monkeypatch):
    """The README's Python quickstart runs as printed, and gives the shapes its comments say."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.findall(r"^```python\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)[0]
    (tmp_path / "sample_audio").symlink_to(ROOT / "sample_audio")
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["c"].octaves[3].shape == (12, 183)
    assert scope["t"].hops[0] == 8192 and scope["t"].hops[-1] == 16
    assert scope["img"].shape == (120, 5513)
    assert scope["audio"].shape == (2, 352800)
