"""deepmimic_sim: an ament_python package that also installs with pip."""

from setuptools import find_packages, setup

PACKAGE = "deepmimic_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    package_data={PACKAGE: ["assets/*.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["deepmimic_mocap", "deepmimic_transport", "numpy>=1.26", "mujoco>=3.3", "torch>=2.2", "gymnasium>=1.0",
                      "imageio>=2.31", "imageio-ffmpeg>=0.5", "pillow>=10", "pyyaml>=6"],
    extras_require={"warp": ["mujoco-warp>=4.0"]},  # the mujoco_warp backend (GPU, or Warp's CPU device)
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="DeepMimic maintainers",
    maintainer_email="maintainers@deepmimic.dev",
    description="Batched MuJoCo simulation of the DeepMimic imitation task.",
    license="MIT",
    entry_points={"console_scripts": ["simulator_node = deepmimic_sim.nodes.simulator_node:main",
                                    "reference_motion_node = deepmimic_sim.nodes.reference_motion_node:main",
                                    "ros2_control_bridge_node = deepmimic_sim.nodes.ros2_control_bridge_node:main"]},
)
