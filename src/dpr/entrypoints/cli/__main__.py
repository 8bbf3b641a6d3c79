"""``python -m dpr.entrypoints.cli``."""

from dpr.entrypoints.cli.commands import main

if __name__ == "__main__":
    main()
