"""songsim: find the songs in your own music library that sound alike."""

__version__ = "0.1.0"
