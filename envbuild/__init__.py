"""envbuild: freeze a whole ML training environment into one lockfile, build it, check hosts against it."""

__version__ = "0.1.0"
