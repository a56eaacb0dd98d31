"""reenact: real-time face reenactment (runtime package)."""

__version__ = "0.1.0"
