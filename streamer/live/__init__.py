"""Live paths (WebRTC server, local camera): the per-stream pipeline behind latest-wins slots."""
