"""``reenact doctor``: always exit 0; text and JSON list every capability with install hints."""

from __future__ import annotations

import json

from streamer.cli import main


def test_doctor_text(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in (
        "tensorrt",
        "pycuda",
        "onnxruntime gpu providers",
        "nvcc",
        "mediapipe landmarks",
        "fan landmarks",
        "pyvirtualcam",
        "virtual camera device",
        "chromium",
        "auto backend: pixel_warp",
    ):
        assert name in out


def test_doctor_json(capsys):
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    items = [i for group in data["checks"].values() for i in group]
    assert {"name", "ok", "detail", "adds", "install"} <= set(items[0])
    assert any(i["name"] == "mediapipe landmarks" and i["ok"] for i in items)
    assert all(i["install"] for i in items)
