"""Lets ``python -m ops`` behave exactly like the ``ops`` console script."""

from ops.cli import main

if __name__ == "__main__":
    main()
