"""Reenactors: ``prepare`` a source once, then ``step`` once per driver frame."""

from streamer.reenactors.base import Reenactor

__all__ = ["Reenactor"]
