"""The library as a researcher installs it: a light import, a wheel and an sdist with the core
requirements only, the licence and the citation, and a fresh virtual environment with the
core dependencies alone that runs the README's own-loop example and the scores command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("agreement_core.study", "agreement_core.statistics", "agreement_core.plots",
         "agreement_core.widgets", "agreement_core.claims", "agreement_core.training",
         "matplotlib", "scipy", "numba", "skimage", "PIL", "torchvision", "submitit")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; import json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_the_recorder_loads_no_study_plotting_or_statistics_module():
    loaded = _loaded_after("import agreement_core.recorder")
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert not heavy, heavy
    assert "pandas" not in loaded          # the Recorder needs numpy and torch only
    loaded = _loaded_after("import agreement_core.scores, agreement_core.agreement")
    assert not [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


def _core_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower() for r in project["dependencies"]}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)], check=True)
    return next(out.glob("*.whl"))


def test_the_wheel_and_the_sdist_carry_the_core_requirements_licence_and_citation(
        wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{info}/licenses/LICENSE" in names and f"{info}/licenses/CITATION.cff" in names
    text = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.startswith("Requires-Dist:")]
    core = {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower() for r in requires
            if "extra ==" not in r}
    assert core == _core_requirements() == {"numpy", "pandas", "torch"}
    extras = {line.split(":", 1)[1].strip() for line in text.splitlines()
              if line.startswith("Provides-Extra:")}
    assert {"study", "statistics", "plots", "book", "test"} <= extras
    assert "Author: The agreement_core contributors" in text or \
        "Author-email" in text or "agreement_core contributors" in text
    # The sdist, from the same build backend.
    code = ("from setuptools import build_meta; import sys; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True)
    sdist = next(tmp_path.glob("*.tar.gz"))
    members = {Path(m).name for m in tarfile.open(sdist).getnames()}
    assert {"LICENSE", "CITATION.cff", "pyproject.toml"} <= members


def _closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need (not their extras)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.split(r"[<>=!~ \[;(]", todo.pop().strip(), maxsplit=1)[0].lower()
        if name in seen:
            continue
        try:
            seen[name] = metadata.distribution(name)
        except metadata.PackageNotFoundError:      # a dependency for another platform
            continue
        todo += [r for r in seen[name].requires or [] if "extra ==" not in r.replace('"', "")
                 .replace("'", "")]
    return list(seen.values())


def test_a_fresh_venv_with_the_core_dependencies_runs_the_readme_example(wheel, tmp_path):
    """No download: the core's dependencies (numpy, pandas, torch and what they need) are
    linked from this environment into a folder the fresh venv sees; nothing else is."""
    shared = tmp_path / "core-deps"
    shared.mkdir()
    for dist in _closure(sorted(_core_requirements())):
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            source = Path(dist.locate_file(top))
            if top not in ("..", "bin", "__pycache__") and source.exists() \
                    and not (shared / top).exists():
                (shared / top).symlink_to(source)
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "core_deps.pth").write_text(f"{shared}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    run = tmp_path / "run"
    run.mkdir()

    def python_in_env(*args):
        return subprocess.run([python, *args], cwd=run, capture_output=True, text=True,
                              timeout=300)

    assert python_in_env("-c", "import scipy").returncode != 0     # isolated from the rest
    where = python_in_env("-c", "import agreement_core; print(agreement_core.__file__)")
    assert str(env) in where.stdout, where.stdout + where.stderr
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"## The Recorder in your own training loop.*?```python\n(.*?)```",
                        readme, re.S).group(1)
    (run / "example.py").write_text(example)
    done = python_in_env("example.py")
    assert done.returncode == 0, done.stderr
    assert "aum" in done.stdout and "el2n" in done.stdout
    scores = python_in_env("-m", "agreement_core", "scores", "runs/readme", "--out",
                           "scores.csv")
    assert scores.returncode == 0, scores.stderr
    assert (run / "scores.csv").read_text().startswith("example_id,target,")
    study = python_in_env("-m", "agreement_core", "stats", "cifar10")
    assert study.returncode == 2
    assert "pip install 'agreement-core[study]'" in study.stderr, study.stderr
    assert study.stderr.startswith("error: ") and study.stderr.count("\n") == 1
