"""The ROS 2 package files under src/ as colcon and catkin_pkg read them, without ROS 2 installed.

- Every ``package.xml`` parses with catkin_pkg (format 3, valid, name = folder, a build type).
- ``colcon list`` (colcon-core + colcon-ros + colcon-python-setup-py + colcon-package-information,
  all from PyPI) finds the six packages with the right build types, and ``colcon graph --dot`` gives
  the expected dependency edges and no cycle.
- The project packages a setup.py installs (``install_requires``) are declared in package.xml.

- ``colcon build`` of the five ament_python packages (into a temporary folder) works without ament:
  each installs its ament index marker, package.xml and its console scripts under ``lib/<package>``
  (where ``ros2 run`` looks). The ament_cmake interfaces package needs ROS 2 (ament_cmake, rosidl)
  and is not built here.

Skipped, with the reason, where catkin_pkg or colcon is not installed (requirements-dev.txt).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
BUILD_TYPES = {
    "deepmimic": "ament_python",
    "deepmimic_interfaces": "ament_cmake",
    "deepmimic_mocap": "ament_python",
    "deepmimic_policy": "ament_python",
    "deepmimic_sim": "ament_python",
    "deepmimic_transport": "ament_python",
}
# package -> the project packages it depends on (package.xml), as colcon's graph has them.
EDGES = {
    "deepmimic": {"deepmimic_mocap", "deepmimic_sim", "deepmimic_policy", "deepmimic_transport"},
    "deepmimic_interfaces": set(),
    "deepmimic_mocap": set(),
    "deepmimic_policy": {"deepmimic_mocap", "deepmimic_sim", "deepmimic_transport"},
    "deepmimic_sim": {"deepmimic_mocap", "deepmimic_transport"},
    "deepmimic_transport": {"deepmimic_interfaces"},
}


def package_dirs() -> list[Path]:
    return sorted(p.parent for p in SRC.glob("*/package.xml"))


def colcon() -> list[str]:
    """The colcon command of this interpreter's environment (skip when absent)."""
    pytest.importorskip("colcon_core", reason="colcon-core is not installed (requirements-dev.txt)")
    pytest.importorskip("colcon_ros", reason="colcon-ros is not installed (requirements-dev.txt)")
    pytest.importorskip("colcon_package_information",
                        reason="colcon-package-information is not installed (requirements-dev.txt)")
    exe = Path(sys.executable).with_name("colcon")
    found = str(exe) if exe.exists() else shutil.which("colcon")
    if found is None:
        pytest.skip("the colcon command is not on PATH")
    return [found]


def run_colcon(*args: str, tmp_path: Path) -> str:
    result = subprocess.run([*colcon(), "--log-base", os.devnull, *args, "--base-paths", str(SRC)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLCON_HOME": str(tmp_path / "colcon_home")})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_six_packages_are_there():
    assert {p.name for p in package_dirs()} == set(BUILD_TYPES)


@pytest.mark.parametrize("package", sorted(BUILD_TYPES))
def test_package_xml_is_valid_format_3(package):
    catkin_package = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is not installed")
    parsed = catkin_package.parse_package(str(SRC / package / "package.xml"))  # raises InvalidPackage
    parsed.validate()
    assert parsed.package_format == 3
    assert parsed.name == package
    assert parsed.get_build_type() == BUILD_TYPES[package]
    assert parsed.maintainers and parsed.licenses and parsed.version
    depends = {d.name for d in parsed.build_depends + parsed.exec_depends + parsed.buildtool_depends}
    assert depends & set(BUILD_TYPES) == EDGES[package]


@pytest.mark.parametrize("package", sorted(p for p, t in BUILD_TYPES.items() if t == "ament_python"))
def test_ament_python_layout_and_declared_dependencies(package):
    """setup.py, setup.cfg and the resource marker exist; project install_requires are in package.xml."""
    folder = SRC / package
    assert (folder / "setup.py").is_file() and (folder / "setup.cfg").is_file()
    assert (folder / "resource" / package).is_file()
    tree = ast.parse((folder / "setup.py").read_text())
    requires: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires" and isinstance(node.value, ast.List):
            for item in node.value.elts:
                if isinstance(item, ast.Constant):
                    requires.add(re.split(r"[<>=!~ \[;]", item.value, maxsplit=1)[0])
    assert requires & set(BUILD_TYPES) <= EDGES[package], requires & set(BUILD_TYPES)


def test_colcon_list_finds_every_package_with_its_build_type(tmp_path):
    out = run_colcon("list", tmp_path=tmp_path)
    found = {}
    for line in out.splitlines():
        name, _path, kind = line.split("\t")
        found[name] = kind.strip("()")
    assert found == {name: f"ros.{kind}" for name, kind in BUILD_TYPES.items()}


def test_colcon_graph_has_the_expected_edges_and_no_cycle(tmp_path):
    out = run_colcon("graph", "--dot", tmp_path=tmp_path)
    edges = {name: set() for name in BUILD_TYPES}
    for source, target in re.findall(r'"([^"]+)" -> "([^"]+)"', out):
        edges[source].add(target)
    assert edges == EDGES
    # Topological order exists (Kahn): no cycle.
    remaining = {k: set(v) for k, v in edges.items()}
    while remaining:
        ready = [k for k, v in remaining.items() if not v]
        assert ready, f"dependency cycle among {sorted(remaining)}"
        for k in ready:
            del remaining[k]
        for v in remaining.values():
            v.difference_update(ready)


def console_scripts(setup_py: Path) -> set[str]:
    """Names of the console_scripts a setup.py declares (``name = module:function`` strings)."""
    names = set()
    for node in ast.walk(ast.parse(setup_py.read_text())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "console_scripts" and isinstance(value, ast.List):
                    names |= {e.value.split("=")[0].strip() for e in value.elts if isinstance(e, ast.Constant)}
    return names


def test_colcon_build_of_the_ament_python_packages(tmp_path):
    python_packages = sorted(p for p, t in BUILD_TYPES.items() if t == "ament_python")
    command = [*colcon(), "--log-base", str(tmp_path / "log"), "build", "--base-paths",
               *(str(SRC / p) for p in python_packages),
               "--build-base", str(tmp_path / "build"), "--install-base", str(tmp_path / "install")]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLCON_HOME": str(tmp_path / "colcon_home")})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    install = tmp_path / "install"
    for package in python_packages:
        prefix = install / package
        assert (prefix / "share/ament_index/resource_index/packages" / package).is_file()
        assert (prefix / "share" / package / "package.xml").is_file()
        assert list(prefix.glob(f"lib/python3*/site-packages/{package}/__init__.py")), package
        scripts = console_scripts(SRC / package / "setup.py")
        installed = {p.name for p in (prefix / "lib" / package).glob("*")} if scripts else set()
        assert scripts <= installed, (package, scripts - installed)
    assert (install / "deepmimic/share/deepmimic/launch").is_dir()
