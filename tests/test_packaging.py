"""pyproject.toml and environment.yml must list the same dependencies."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements.update(extra)
    # Extras that name other extras of this package add nothing of their own.
    return {req for req in requirements if not req.startswith(f"{project['name']}[")}


def environment_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return {req for req in pip if not req.startswith("-e")}


def test_environment_yml_matches_pyproject():
    in_pyproject, in_env = pyproject_requirements(), environment_requirements()
    assert in_pyproject == in_env, (
        f"only in pyproject.toml: {sorted(in_pyproject - in_env)}; "
        f"only in environment.yml: {sorted(in_env - in_pyproject)}")


def test_environment_yml_python_matches_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]


def test_citation_names_the_project_and_the_two_papers(paper_text):
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    titles = [ref["title"] for ref in citation["references"]]
    assert titles[0] in paper_text  # the paper's own title
    assert "Let's Agree to Agree" in titles[1]


def test_the_wheel_ships_type_hints_and_no_study_files(tmp_path):
    import subprocess
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True)
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    assert "agreement_core/py.typed" in names
    assert not [n for n in names if n.startswith(("notebooks/", "results/", "book/"))]


def test_an_installed_package_finds_no_checkout_and_says_what_to_do(tmp_path, monkeypatch):
    import pytest

    from agreement_core import locations
    from agreement_core.errors import ConfigError
    from agreement_core.study.pipeline import BuildError, project_dir

    monkeypatch.setattr(locations, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGREEMENT_PROJECT", raising=False)
    monkeypatch.delenv("AGREEMENT_RESULTS", raising=False)
    assert locations.project_root() is None
    assert locations.results_root() == tmp_path / "results"      # results go to ./results
    with pytest.raises(BuildError, match="pass --project DIR"):
        project_dir()
    assert project_dir(ROOT) == ROOT                              # located explicitly
    assert locations.results_root() == tmp_path / "results"
    monkeypatch.setenv("AGREEMENT_PROJECT", str(tmp_path))
    with pytest.raises(ConfigError, match="not a checkout of the study"):
        project_dir()
