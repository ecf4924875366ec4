"""`ros2 launch deepmimic train.launch.py [name:=value ...]`: the graph in config/graphs/train.yaml.

The nodes, parameters and remappings come from that YAML through deepmimic.graph, the same reading
`deepmimic launch train` uses. launch and launch_ros are imported only when the description is built.
"""

from pathlib import Path

GRAPH = Path(__file__).resolve().parent.parent / "config" / "graphs" / "train.yaml"


def generate_launch_description():
    """One DeclareLaunchArgument per graph argument, then a launch_ros Node per graph node."""
    from deepmimic.graph import launch_description

    return launch_description(GRAPH)
