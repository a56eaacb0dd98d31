"""The ``train`` extra (tensorboard, pyyaml) is optional: missing packages give clear messages."""

from __future__ import annotations

import logging
import sys

import pytest

from streamer.errors import InputError
from training.config import read_config_file
from training.metrics import MetricsWriter, read_metrics


@pytest.fixture
def no_tensorboard(monkeypatch):
    """``from torch.utils.tensorboard import ...`` raises ImportError, as without the package."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)


def test_metrics_without_tensorboard_warn_and_keep_the_csv(tmp_path, no_tensorboard, caplog):
    with caplog.at_level(logging.WARNING, logger="training.metrics"):
        writer = MetricsWriter(tmp_path)
    writer.write(1, "train", {"loss": 0.5})
    writer.close()
    assert [r["value"] for r in read_metrics(tmp_path)] == ["0.5"]
    (record,) = caplog.records
    assert "reenact[train]" in record.getMessage() and "metrics.csv" in record.getMessage()


def test_required_tensorboard_missing_is_an_input_error(tmp_path, no_tensorboard):
    with pytest.raises(InputError, match=r"reenact\[train\]"):
        MetricsWriter(tmp_path, tensorboard=True)


def test_tensorboard_off_says_nothing(tmp_path, no_tensorboard, caplog):
    with caplog.at_level(logging.WARNING, logger="training.metrics"):
        MetricsWriter(tmp_path, tensorboard=False).close()
    assert not caplog.records


def test_yaml_config_without_pyyaml(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    path = tmp_path / "run.yaml"
    path.write_text("trainer: idsg\n")
    with pytest.raises(InputError, match=r"PyYAML: pip install 'reenact\[train\]'"):
        read_config_file(str(path))


def test_bad_yaml_is_one_line(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "run.yaml"
    path.write_text("trainer: [idsg\nloop: {steps: 3\n")
    with pytest.raises(InputError, match="not valid YAML") as info:
        read_config_file(str(path))
    assert "\n" not in str(info.value)
    path.write_text("- a list\n")
    with pytest.raises(InputError, match="expected a mapping"):
        read_config_file(str(path))
