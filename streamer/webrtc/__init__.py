"""``reenact serve``: an aiohttp page + signaling server and one aiortc peer per browser."""
