"""Command-line entry points of the harness."""
