"""Benchmark runs that scripts in ``benchmarks/`` (and later studies) call: importable, testable.

Settings come from ``conf/benchmark/<name>.yaml`` through :func:`molgen.benchmarking.benchmark_config`.
"""
