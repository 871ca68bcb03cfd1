"""Adapters: the only modules that talk to outside programs and services.

``process`` runs programs; ``uv`` and ``piptools`` are the Python resolvers/installers behind one
interface each.  Nothing outside this package imports ``subprocess``.
"""
