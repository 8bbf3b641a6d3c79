"""``python -m dpr.entrypoints.cli``."""

from dpr.entrypoints.cli.main import main

if __name__ == "__main__":
    main()
