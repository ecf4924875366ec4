"""ROS 2 nodes of this package (the only modules that import deepmimic_transport)."""
