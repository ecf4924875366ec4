"""deepmimic_policy: models, PPO, behaviour cloning and policy serving (built in the learning issue)."""
