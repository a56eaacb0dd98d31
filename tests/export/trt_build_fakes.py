"""A CPU stand-in for the part of the tensorrt module ``build_serialized_engine`` uses: builder, network,
ONNX parser, builder config (flags, workspace, timing cache) and optimisation profile. The config starts
with BuilderFlag.TF32 set, as TensorRT's does, and its timing-cache calls report failure the way
TensorRT does (``create_timing_cache`` / ``get_timing_cache`` may return None, ``set_timing_cache``
returns False for a cache made on another device or TensorRT version)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class FakeCache:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self) -> bytes:
        return self.data + b"|timed"


class FakeConfig:
    def __init__(self, trt: FakeBuilderTrt) -> None:
        self.trt = trt
        self.flags = {trt.BuilderFlag.TF32}  # TensorRT: "TF32 ... Enabled by default"
        self.cache: FakeCache | None = None
        self.pools: dict[str, int] = {}
        self.profiles: list[Any] = []

    def set_flag(self, flag: str) -> None:
        self.flags.add(flag)

    def clear_flag(self, flag: str) -> None:
        self.flags.discard(flag)

    def get_flag(self, flag: str) -> bool:
        return flag in self.flags

    def set_memory_pool_limit(self, pool: str, size: int) -> None:
        self.pools[pool] = size

    def create_timing_cache(self, data: bytes) -> FakeCache | None:
        self.trt.created_caches.append(bytes(data))
        if data in self.trt.unreadable:
            return None
        return FakeCache(bytes(data))

    def set_timing_cache(self, cache: FakeCache, ignore_mismatch: bool) -> bool:
        if cache.data in self.trt.mismatched and not ignore_mismatch:
            return False
        self.cache = cache
        return True

    def get_timing_cache(self) -> FakeCache | None:
        return None if self.trt.lose_cache else self.cache

    def add_optimization_profile(self, profile: Any) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1


class FakeBuilderTrt:
    """The tensorrt module for builds; ``builds`` records (flags, cache data) of each build."""

    __version__ = "10.3.0"
    BuilderFlag = SimpleNamespace(FP16="FP16", TF32="TF32")
    MemoryPoolType = SimpleNamespace(WORKSPACE="WORKSPACE")
    NetworkDefinitionCreationFlag = SimpleNamespace(STRONGLY_TYPED=1)

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    def __init__(self) -> None:
        self.builds: list[tuple[frozenset, bytes | None]] = []
        self.created_caches: list[bytes] = []
        self.unreadable: set[bytes] = set()
        self.mismatched: set[bytes] = set()
        self.lose_cache = False
        trt = self

        class Profile:
            def __init__(self) -> None:
                self.shapes: dict[str, tuple] = {}

            def set_shape(self, name: str, lo: tuple, opt: tuple, hi: tuple) -> None:
                self.shapes[name] = (lo, opt, hi)

        class Builder:
            def __init__(self, logger: Any) -> None:
                self.logger = logger

            def create_network(self, flags: int) -> Any:
                return SimpleNamespace(flags=flags)

            def create_builder_config(self) -> FakeConfig:
                return FakeConfig(trt)

            def create_optimization_profile(self) -> Profile:
                return Profile()

            def build_serialized_network(self, network: Any, config: FakeConfig) -> bytes:
                trt.builds.append((frozenset(config.flags), config.cache.data if config.cache else None))
                return b"plan"

        class OnnxParser:
            num_errors = 0

            def __init__(self, network: Any, logger: Any) -> None:
                pass

            def parse(self, data: bytes) -> bool:
                return True

        self.Builder, self.OnnxParser = Builder, OnnxParser
