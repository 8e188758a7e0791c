"""Benchmarks: each reports ratios against a limit measured in the same run, never absolute
timings as pass/fail (see bench/README.md)."""
