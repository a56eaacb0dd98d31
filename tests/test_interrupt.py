"""streamer.interrupt: a Ctrl-C that lands inside a finaliser is not lost."""

from __future__ import annotations

import gc
import os
import signal

import pytest

from streamer.interrupt import raise_if_interrupted, sigint_guard


class _SignalsWhileFinalised:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Python's handler runs here, inside __del__


def _finalise_one() -> None:
    obj = _SignalsWhileFinalised()
    del obj
    gc.collect()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_by_a_finaliser_is_raised_again():
    with sigint_guard():
        _finalise_one()  # the KeyboardInterrupt raised inside __del__ is dropped ("Exception ignored")
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    raise_if_interrupted()  # cleared when the guard ends


def test_without_a_signal_nothing_is_raised_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with sigint_guard():
        assert signal.getsignal(signal.SIGINT) is not before
        raise_if_interrupted()
    assert signal.getsignal(signal.SIGINT) is before
