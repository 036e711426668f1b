"""parksim as a package: where files are found (sim.resources), the version, and a real wheel.

The slow test builds the wheel from a copy of the sources, installs it (without
dependencies) into a fresh venv that borrows this venv's installed packages
through a .pth file, and runs the commands a user would, from an empty folder,
so that nothing of the checkout can be picked up by accident.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from sim import __version__, resources
from sim.errors import InputError
from sim.model.scenario import find_scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_every_sim_package_goes_into_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sim").rglob("__init__.py")}
    missing = on_disk - set(config["packages"])
    assert not missing, f"packages missing from pyproject.toml [tool.setuptools] packages: {sorted(missing)}"
    mapped = {config["package-dir"][p] for p in config["packages"] if p.startswith("sim._data")}
    assert mapped == {"scenarios", "calibration"}


def test_every_input_file_a_job_or_scenario_can_name_goes_into_the_wheel():
    """A job's model_noise CSV or a design's CSV left out of the globs breaks the installed package only."""
    from fnmatch import fnmatch

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    globs = config["package-data"]
    shipped = {"scenarios": globs["sim._data.scenarios"], "calibration": globs["sim._data.calibration"]}
    folders = {"scenarios": ROOT / "scenarios", "calibration": ROOT / "calibration"}
    left_out = []
    for key, top in folders.items():
        for sub in [top] if key == "scenarios" else [top / "jobs", top / "data"]:
            for path in sub.rglob("*"):
                rel = path.relative_to(top).as_posix()
                if path.is_file() and not any(fnmatch(rel, g) for g in shipped[key]):
                    left_out.append(f"{key}/{rel}")
    assert not left_out, f"not matched by [tool.setuptools.package-data]: {left_out}"


def test_one_version():
    assert importlib.metadata.version("parksim") == __version__


def test_bare_names_resolve_to_the_shipped_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_scenario("baseline") == resources.folder("scenario") / "baseline.toml"
    assert resources.find("eco_x_financing", "design").parent == resources.folder("design")
    assert resources.find("default", "job") == resources.folder("job") / "default.toml"
    assert "default" in resources.available("fitted")
    assert resources.default_data().is_file()


def test_an_explicit_path_wins_over_the_packaged_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "baseline.toml").write_text('label = "mine"\n', encoding="utf-8")
    assert find_scenario("baseline") == Path("scenarios/baseline.toml"), "./scenarios/ of the current folder first"
    assert load_scenario("baseline").label == "mine"
    assert find_scenario(ROOT / "scenarios" / "tiny.toml") == ROOT / "scenarios" / "tiny.toml"


def test_base_resolves_beside_the_file_first_then_the_packaged_copy(tmp_path):
    user = tmp_path / "study" / "mine.toml"
    user.parent.mkdir()
    user.write_text('base = "baseline.toml"\n[levers]\nvc_cluster_index = 2.0\n', encoding="utf-8")
    packaged = load_scenario(user)
    assert packaged["vc_cluster_index"] == 2.0
    assert packaged.values == load_scenario("baseline").with_values(vc_cluster_index=2.0).values, (
        "no baseline.toml beside it: the packaged baseline"
    )
    (user.parent / "baseline.toml").write_text("[levers]\nguidance_fund_myuan = 123.0\n", encoding="utf-8")
    assert load_scenario(user)["guidance_fund_myuan"] == 123.0, "a baseline.toml beside the file wins"


def test_an_unknown_name_is_bad_input_listing_the_scenarios(capsys):
    from sim.cli import main

    with pytest.raises(InputError) as err:
        find_scenario("no_such_scenario")
    assert "not found" in str(err.value) and "baseline" in str(err.value) and "tiny" in str(err.value)
    assert main(["validate", "no_such_scenario"]) == 2
    assert "baseline, china_israel" in capsys.readouterr().err


def _site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with the built wheel of parksim in it, seeing this venv's dependencies through a .pth file."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.png")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("sim", "scenarios", "calibration"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(src)]
    subprocess.run([*build, "-w", str(tmp / "dist")], check=True, capture_output=True, text=True)
    (wheel,) = (tmp / "dist").glob("parksim-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, text=True)
    dev = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # a plain path line: the dev venv's own .pth files (the editable sim) are not run
    (_site_packages(python) / "dev-venv-deps.pth").write_text("\n".join(sorted(dev)) + "\n", encoding="utf-8")
    work = tmp / "work"
    work.mkdir()
    return venv, work


def _run(venv: Path, work: Path, *cmd: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    exe = str(venv / "bin" / cmd[0])
    done = subprocess.run([exe, *cmd[1:]], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_the_wheel_works_outside_a_checkout(installed):
    venv, work = installed
    code = (
        "import json, sim; from sim import load_scenario; s = load_scenario('baseline');"
        "print(json.dumps({'sim': sim.__file__, 'path': s.path, 'version': sim.__version__}))"
    )
    where = json.loads(_run(venv, work, "python", "-c", code).stdout)
    assert Path(where["sim"]).is_relative_to(venv), f"imported the checkout's sim, not the wheel's: {where['sim']}"
    assert Path(where["path"]).is_relative_to(venv), "baseline must come from the installed package data"
    assert where["version"] == __version__

    assert _run(venv, work, "parksim", "--version").stdout.strip() == f"parksim {__version__}"
    assert _run(venv, work, "python", "-m", "sim", "--version").stdout.strip() == f"parksim {__version__}"
    assert _run(venv, work, "python", "-m", "sim", "--help").stdout == _run(venv, work, "parksim", "--help").stdout

    (work / "mine.toml").write_text('base = "baseline.toml"\nname = "mine"\n[levers]\nvc_cluster_index = 2.0\n')
    assert "ok" in _run(venv, work, "parksim", "validate", "mine.toml", "baseline", "scenarios/tiny.toml").stdout

    _run(venv, work, "parksim", "run", "baseline", "--reps", "2", "--quiet", "--no-figure", "--id", "r")
    assert (work / "results" / "runs" / "r" / "manifest.json").is_file()
    _run(venv, work, "parksim", "sweep", "baseline", "--design", "eco_x_financing", "--reps", "1", "--quiet")
    _run(venv, work, "parksim", "calibrate", "default", "--check")

    bad = _run(venv, work, "parksim", "run", "no_such_scenario", ok=False)
    assert bad.returncode == 2 and "baseline" in bad.stderr and "Traceback" not in bad.stderr
    assert sorted(p.name for p in work.iterdir()) == ["mine.toml", "results"], "wrote outside results/"
