"""The drift check, standard library only from the options to the report (it runs before every job on every node).

    cli.main            the options (parsed here, for ``envbuild check`` and the image's ``envbuild-check``)
    -> locate.target    which environment: --python/--root/--image, else $VIRTUAL_ENV, .venv, python3 on PATH
    -> expect.load      what the lock says (read by envbuild.lockfile, cached by the lock's bytes)
    -> probe.probe      what is there (interpreter.describe for another interpreter, nvidia, kernels)
    -> compare.compare  the findings: only departures from the lock
    -> report           text (a rich table on a terminal when something drifted), JSON, JUnit
"""
