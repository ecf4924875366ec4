"""deepmimic_policy: an ament_python package that also installs with pip."""

from setuptools import find_packages, setup

PACKAGE = "deepmimic_policy"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["deepmimic_mocap", "deepmimic_sim", "deepmimic_transport", "torch>=2.2", "rsl-rl-lib==5.5.1", "tensordict>=0.8",
                      "tensorboard>=2.15", "pyyaml>=6"],
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="DeepMimic maintainers",
    maintainer_email="maintainers@deepmimic.dev",
    description="PPO training, behaviour cloning and policy serving for DeepMimic.",
    license="MIT",
    entry_points={"console_scripts": ["policy_node = deepmimic_policy.nodes.policy_node:main",
                                    "trainer_node = deepmimic_policy.nodes.trainer_node:main"]},
)
