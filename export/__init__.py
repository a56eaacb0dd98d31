"""ONNX export and TensorRT engine building for the networks in ``streamer.models``."""
