"""Install size of agreement-core's dependencies, per extra, from the environment's own
installed distributions (no download): the closure of each requirement set, summed over
the files every distribution installed (its RECORD), with and without torch's own closure.

    python benchmarks/install_size.py                  # core, then every extra
    python benchmarks/install_size.py --pyproject PATH # another checkout's pyproject.toml

The numbers are the installed sizes in *this* environment (a CPU or CUDA torch changes
torch's line); the point is the part beside torch that agreement-core adds.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower().replace(
        "_", "-")


def _size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        try:
            total += Path(dist.locate_file(file)).stat().st_size
        except OSError:
            pass
    return total


def closure(requirements: list[str]) -> dict[str, int]:
    """Every installed distribution the requirements pull in, name -> bytes (markers with
    ``extra ==`` are not followed: those are extras of the dependency, not installed by
    default)."""
    seen: dict[str, int] = {}
    todo = [_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        if name in seen or name == "agreement-core":
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            seen[name] = 0
            continue
        seen[name] = _size(dist)
        for req in dist.requires or []:
            if "extra ==" in req.replace('"', "").replace("'", ""):
                continue
            todo.append(_name(req))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args()
    project = tomllib.loads(args.pyproject.read_text())["project"]
    torch_closure = set(closure(["torch"]))
    extras = project.get("optional-dependencies", {})

    def expand(reqs: list[str]) -> list[str]:
        """Requirements with this package's own extras (``agreement-core[study]``) spelled
        out."""
        out = []
        for req in reqs:
            if _name(req) == project["name"]:
                named = req[req.index("[") + 1:req.index("]")].split(",")
                out += expand([r for extra in named for r in extras[extra.strip()]])
            else:
                out.append(req)
        return out

    sets = {"core": project["dependencies"]}
    for extra, reqs in extras.items():
        sets[f"core+{extra}"] = [*project["dependencies"], *expand(reqs)]
    print(f"{'requirements':<22} {'dists':>5} {'MB total':>9} {'MB beside torch':>16}  "
          "largest beside torch")
    for label, reqs in sets.items():
        sizes = closure(reqs)
        beside = sum(v for k, v in sizes.items() if k not in torch_closure)
        largest = sorted(((v, k) for k, v in sizes.items() if k not in torch_closure),
                         reverse=True)[:3]
        print(f"{label:<22} {len(sizes):>5} {sum(sizes.values()) / 1e6:>9.0f} "
              f"{beside / 1e6:>16.0f}  "
              + ", ".join(f"{k} {v / 1e6:.0f}" for v, k in largest))


if __name__ == "__main__":
    main()
