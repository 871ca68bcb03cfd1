"""The command line.  Most commands are click's (``app``: the group, with one module per command, named after it);
``check``, ``diff`` and ``record`` parse their few options themselves (``envbuild.options``), because they run
before every job and in every pull request, where importing click would cost more than their work: ``diff`` here,
``check`` and ``record`` in the check core, which goes into images.  Nothing here imports click until a click
command runs."""
