"""deepmimic_transport: an ament_python package that also installs with pip."""

from setuptools import find_packages, setup

PACKAGE = "deepmimic_transport"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["numpy>=1.26", "pyyaml>=6", "cyclonedds>=0.10.5", "rosbags>=0.10", "mcap>=1.1"],
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="DeepMimic maintainers",
    maintainer_email="maintainers@deepmimic.dev",
    description="One node API over three transports: in process, Cyclone DDS with ROS 2 conventions, rclpy.",
    license="MIT",
)
