import cv2
import numpy as np
import onnx
import pytest

from streamer.backends.warp import create_remap_backend, export_pixel_warp_onnx
from streamer.errors import InputError


@pytest.fixture(scope="module")
def warp_case():
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (96, 128, 3)).astype(np.uint8), (9, 9), 3)
    ys, xs = np.mgrid[0:80, 0:112].astype(np.float32)
    map_x = xs * 1.1 + 3.3 + 4 * np.sin(ys / 9)
    map_y = ys * 0.95 - 2.2  # goes outside the image at the top: edge replication
    return image, map_x, map_y


@pytest.mark.parametrize("name", ["torch", "onnxruntime"])
def test_backends_agree_with_opencv(warp_case, name):
    image, mx, my = warp_case
    ref = create_remap_backend("opencv").remap(image, mx, my)
    out = create_remap_backend(name).remap(image, mx, my)
    assert out.shape == ref.shape == (80, 112, 3)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_onnx_export_is_valid_and_static():
    model = onnx.load_from_string(export_pixel_warp_onnx(64, 48))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert "GatherElements" in ops and "GridSample" not in ops  # the onnxruntime CPU sampler
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 64, 48]


def test_unknown_backend_is_a_user_error():
    with pytest.raises(InputError, match="unknown backend"):
        create_remap_backend("tensorrt-please")
