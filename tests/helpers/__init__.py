"""Helpers the tests import: composed configs and quick-run settings (configs), the command line (cli), training
in-process (training), sweeps through the command line (sweeps) and hand-made job folders (results).

Fixtures live in tests/conftest.py; these are plain functions and constants.
"""
