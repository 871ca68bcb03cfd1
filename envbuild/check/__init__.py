"""The drift check, standard library only from the options to the report (it runs before every job on every node).

    cli.main            the options (parsed here, for ``envbuild check`` and the image's ``envbuild-check``)
    -> locate.target    which environment: --python/--root/--image, else $VIRTUAL_ENV, .venv, python3 on PATH
    -> expect.load      what the lock says (read by the ReadLock handed in: envbuild.lockview; cached by the
                        lock's bytes)
    -> probe.probe      what is there (query.describe for another interpreter, nvidia, kernels)
    -> compare.compare  the findings: only departures from the lock
    -> report           text (a rich table on a terminal when something drifted), JSON, JUnit

Every module on that path is one more file to find, read and run before every job (0.15 ms each here), so the
path is short, and none of them says ``from __future__ import annotations`` (importing ``__future__`` costs as
much as a module of ours): annotations that name a type only known to type checkers are quoted instead, and so
is every ``X | None``: these modules also run under an image's Python, as old as 3.9, which cannot evaluate it
(``tests/test_render.py`` runs the image's checker under 3.9 and 3.10 where they are installed).
"""
