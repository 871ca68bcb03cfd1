"""Resolvers: each freezes one part of the environment from the spec (python, later system, image, cuda)."""
