"""``reenact serve``: an aiohttp page + signaling server and one aiortc peer per browser.

This module stays free of heavy imports: ``reenact``'s argument parser reads ``default_max_streams`` from here
without loading aiortc and aiohttp at every command's start-up (issue 16).
"""

import os


def default_max_streams() -> int:
    """One stream per CPU core (each stream keeps about one core busy at the camera's rate)."""
    return max(1, os.cpu_count() or 1)
