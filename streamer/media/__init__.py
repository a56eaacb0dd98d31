"""Media I/O: photos, video file sources and sinks (PyAV)."""
