"""The ``heredity`` command line: one small module per command, wired in :mod:`heredity.cli.main`."""
