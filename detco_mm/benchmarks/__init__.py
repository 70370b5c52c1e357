# Copyright (c) detco_mm contributors. All rights reserved.
"""Helpers of the benchmark tools (tools/benchmarks) that tests and users can call."""
