"""`python -m songsim_desktop` launches the desktop app (the CLI is the `songsim` console script)."""

import sys

from songsim_desktop.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
