"""Inference backends: who runs the per-frame computation (OpenCV, torch, onnxruntime)."""
