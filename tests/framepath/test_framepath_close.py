"""Every path that opens a kernel-path device closes it (#19 item 1: on a GPU the device holds a stream,
kernels and pinned buffers in pycuda's context; they are freed on the thread that made them)."""

from __future__ import annotations

import pytest

from streamer.examples import example_source_path


def _spy(monkeypatch, module, name: str) -> list[list[bool]]:
    """Wrap ``module.name`` (a renderer factory) so each renderer it makes records its close()."""
    made: list[list[bool]] = []
    real = getattr(module, name)

    def factory(*args, **kwargs):
        renderer = real(*args, **kwargs)
        if renderer is None:
            return None
        closed: list[bool] = []
        inner_close = renderer.close

        def close() -> None:
            closed.append(True)
            inner_close()

        renderer.close = close
        made.append(closed)
        return renderer

    monkeypatch.setattr(module, name, factory)
    return made


def _options(driver, out):
    from streamer.convert import ConvertOptions

    return ConvertOptions(
        source=example_source_path(),
        driver=driver,
        out=out,
        progress=False,
        max_seconds=0.3,
        frame_path="kernels",
        generator="geometric",
    )


def test_convert_closes_its_device(monkeypatch, example_driver, tmp_path):
    import streamer.convert as C

    made = _spy(monkeypatch, C, "create_device_renderer")
    C.convert(_options(example_driver, tmp_path / "o.mp4"))
    assert made == [[True]]


def test_convert_closes_its_device_on_errors(monkeypatch, example_driver, tmp_path):
    import streamer.convert as C

    made = _spy(monkeypatch, C, "create_device_renderer")

    def broken(self, image):
        raise RuntimeError("a stage failed")

    monkeypatch.setattr(C.ReenactmentPipeline, "draw", broken)
    with pytest.raises(RuntimeError, match="a stage failed"):
        C.convert(_options(example_driver, tmp_path / "o.mp4"))
    assert made == [[True]] and not (tmp_path / "o.mp4").exists()


def test_live_stream_closes_its_device(monkeypatch):
    import streamer.live.stream as S
    from streamer.live.config import LiveConfig
    from streamer.live.sources import prepare_file

    made = _spy(monkeypatch, S, "create_frame_renderer")
    config = LiveConfig(max_side=384, frame_path="kernels", generator="geometric")
    stream = S.LiveStream(prepare_file(example_source_path(), config), config)
    stream.open()
    assert made == [[]]
    stream.close()
    stream.close()  # twice is harmless
    assert made == [[True]]
