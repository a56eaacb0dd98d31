"""Subcommands of ``reenact``; each module has ``register(subparsers)``."""
