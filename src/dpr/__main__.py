"""``python -m dpr``: the same as the ``dpr`` command."""

from dpr.entrypoints.cli import main

if __name__ == "__main__":
    main()
