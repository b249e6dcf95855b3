"""Benchmarks run by ``make bench``: numbers measured on this machine in one run, never asserted in tests.

``bench.sentiment`` measures the sentiment classifiers (throughput, single-text latency, memory) against the
snownlp baseline and compares the torch and ONNX Runtime backends; results go to ``var/bench/``.
"""
