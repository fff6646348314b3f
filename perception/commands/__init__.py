"""Implementations of the ``perception`` subcommands; ``tools/*.py`` are thin wrappers over them."""
