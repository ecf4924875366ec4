"""deepmimic_mocap: an ament_python package that also installs with pip."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "deepmimic_mocap"
DATA = [str(p.relative_to(PACKAGE)) for p in Path(PACKAGE, "data").rglob("*") if p.is_file()]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    package_data={PACKAGE: [*DATA, "bone_maps.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["numpy>=1.26", "array-api-compat>=1.9", "pyyaml>=6"],
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="DeepMimic maintainers",
    maintainer_email="maintainers@deepmimic.dev",
    description="Motion capture loading, kinematics, retargeting and a batched motion library.",
    license="MIT",
)
