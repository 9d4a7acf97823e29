"""`python -m bot [options]`: the same as `qa bot [options]`."""

from __future__ import annotations

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["bot", *sys.argv[1:]]))
