"""Benchmark harness for multi-agent collaborative reasoning with test-time scaling."""

__version__ = "0.1.0"
