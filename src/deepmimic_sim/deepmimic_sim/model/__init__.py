"""Character models: MJCF generation from DeepMimic files and the mapping of poses onto hinges."""
