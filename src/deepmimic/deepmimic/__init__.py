"""deepmimic: the command line, launch files and configuration of the DeepMimic ROS 2 system."""
