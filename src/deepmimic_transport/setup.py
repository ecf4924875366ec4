"""deepmimic_transport: an ament_python package that also installs with pip."""

from setuptools import find_packages, setup

PACKAGE = "deepmimic_transport"

# ROS 2 Kilted from PyPI (manylinux cp311 wheels; versions pinned in the repository's
# constraints.txt): rclpy on Fast DDS with the message packages our graphs use (the `rclpy`
# transport and the interop tests), and ROS's rosidl generators + ament_cmake, with which
# scripts/build_ros_interfaces.sh builds deepmimic_interfaces for rclpy. Only ros-kilted-* names:
# the un-prefixed ros-* names resolve to other distributions.
ROS = ["ros-kilted-rclpy", "ros-kilted-rmw-fastrtps-cpp", "ros-kilted-fastdds", "ros-kilted-builtin-interfaces",
       "ros-kilted-std-msgs", "ros-kilted-std-srvs", "ros-kilted-geometry-msgs", "ros-kilted-sensor-msgs",
       "ros-kilted-nav-msgs"]
ROS_BUILD = ["ros-kilted-rosidl-default-generators", "ros-kilted-ament-cmake", "ros-kilted-ament-package",
             "ros-kilted-ament-cmake-include-directories", "ros-kilted-ament-cmake-ros-core",
             "ros-kilted-rosidl-core-generators"]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["numpy>=1.26", "pyyaml>=6", "cyclonedds>=0.10.5", "rosbags>=0.10", "mcap>=1.1"],
    extras_require={"ros": ROS + ROS_BUILD},
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="DeepMimic maintainers",
    maintainer_email="maintainers@deepmimic.dev",
    description="One node API over three transports: in process, Cyclone DDS with ROS 2 conventions, rclpy.",
    license="MIT",
)
