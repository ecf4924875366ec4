"""Subcommands of the deepmimic CLI, one module per area."""
