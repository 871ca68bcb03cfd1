"""Reviewing locks: ``diff`` (what changed between two locks, part by part) and how it is shown."""
