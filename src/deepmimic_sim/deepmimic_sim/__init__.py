"""deepmimic_sim: batched physics for the DeepMimic imitation task (built in the environment issue)."""
