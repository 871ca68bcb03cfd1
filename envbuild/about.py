"""What envbuild says of itself to others (a base module): its version, in the User-Agent of its HTTP requests and
the SBOMs it writes."""

__version__ = "0.1.0"
