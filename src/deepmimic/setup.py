"""deepmimic: the command line, launch files and configuration (ament_python, pip-installable).

``launch`` and ``config`` are links to the repository's top-level folders, so that
``ros2 launch deepmimic deploy.launch.py`` finds them in a colcon workspace.
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "deepmimic"


def _files(folder: str, pattern: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).glob(pattern) if p.is_file())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _files("launch", "*.launch.py")),
        (f"share/{PACKAGE}/config", _files("config", "*.yaml")),
        (f"share/{PACKAGE}/config/graphs", _files("config/graphs", "*.yaml")),
    ],
    install_requires=["deepmimic_mocap", "deepmimic_sim", "deepmimic_policy", "deepmimic_transport", "pyyaml>=6", "tqdm>=4.66"],
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="DeepMimic maintainers",
    maintainer_email="maintainers@deepmimic.dev",
    description="DeepMimic as a ROS 2 system: command line, launch files and configuration.",
    license="MIT",
    entry_points={"console_scripts": ["deepmimic = deepmimic.cli:main"]},
)
