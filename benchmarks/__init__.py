"""Benchmarks: throughput and latency of every stage and of whole pipelines."""
