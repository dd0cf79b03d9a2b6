"""The benchmarks behind ``kaisen bench <name>`` (docs/benchmarks.md). Nothing of the product imports this
package: only the CLI assembler (``kaisen/cli.py``) does, through ``kaisen.benchmarks.cli``."""
