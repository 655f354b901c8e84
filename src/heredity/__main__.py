"""``python -m heredity``: the same command line as the installed ``heredity`` script."""

from heredity.cli.main import entry

if __name__ == "__main__":
    entry()
