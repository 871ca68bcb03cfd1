"""What ``envbuild sync`` leaves in a virtual environment, so that a plain check holds it to account for that.

A developer's laptop or dev VM is not the image: its apt packages are whatever its admin installed, and its OS is
not the lock's.  ``envbuild sync`` makes a venv of the lock's Python part, so a plain ``envbuild check`` of a venv
that sync made checks what sync made (the scope ``venv``): the interpreter, the Python packages, the CUDA
libraries those wheels bring, the driver they need, and the lock's ``[env]``, which sync writes into the venv's
activation script.  Everything else (a cluster node, an image, a mounted root, a venv sync did not make) is
checked in full (the scope ``host``).  ``--scope`` widens or narrows it.

Two marks, both written here and read here:

- ``pyvenv.cfg`` gets ``envbuild-sync = LOCK`` (the lock it was synced from);
- ``bin/activate`` gets the lock's ``[env]``, exported on activation and restored by ``deactivate``, between
  ``# >>> envbuild [env] >>>`` and ``# <<< envbuild [env] <<<`` (sync replaces the blocks each time).
"""

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from collections.abc import Mapping

SCOPES = ("venv", "host")
MARKER = "envbuild-sync"
BEGIN, END = "# >>> envbuild [env] >>>", "# <<< envbuild [env] <<<"


def of_interpreter(executable: str) -> "str | None":
    """The venv directory of EXECUTABLE (``VENV/bin/python``) when it has a ``pyvenv.cfg``, else None."""
    venv = os.path.dirname(os.path.dirname(executable))
    return venv if os.path.isfile(os.path.join(venv, "pyvenv.cfg")) else None


def synced_from(venv: str) -> "str | None":
    """The lock ``envbuild sync`` made VENV from (its ``pyvenv.cfg`` says), or None: not made by sync."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and key.strip() == MARKER:
                    return value.strip() or None
    except OSError:
        return None
    return None


def mark(venv: str, lock: str) -> None:
    """Record in VENV's ``pyvenv.cfg`` that sync made it from LOCK (replacing an earlier mark)."""
    import envbuild.atomic

    path = os.path.join(venv, "pyvenv.cfg")
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if line.partition("=")[0].strip() != MARKER]
    lines.append(f"{MARKER} = {lock}")
    envbuild.atomic.write(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _quote(value: str) -> str:
    """VALUE as one POSIX shell word (single quotes; a quote inside as '"'"')."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _unquote(word: str) -> str:
    """A shell word as ``_quote`` writes it ('...' runs, "..." runs, bare characters), without shlex (its ``re``
    would load on the check's path)."""
    out, index = [], 0
    while index < len(word):
        char = word[index]
        if char in "'\"":
            end = word.find(char, index + 1)
            end = len(word) if end < 0 else end
            out.append(word[index + 1:end])
            index = end + 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _without_blocks(text: str) -> str:
    out, inside = [], False
    for line in text.split("\n"):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def write_activation(venv: str, env: "Mapping[str, str]") -> bool:
    """Put ENV into VENV's ``bin/activate`` (replacing what an earlier sync put there): exported when the venv is
    activated, restored to the shell's own values by ``deactivate``.  False when the venv has no POSIX activation
    script with a ``deactivate`` function to extend (then nothing is written)."""
    for name, value in env.items():  # the spec's reader refuses these; a hand-edited lock must not add a line
        if not name.isidentifier() or "\n" in value or "\0" in value or "\r" in value:
            raise ValueError(f"[env] -> {name}: not a variable that a shell script can set on one line")
    path = os.path.join(venv, "bin", "activate")
    try:
        with open(path, encoding="utf-8") as handle:
            text = _without_blocks(handle.read())
    except OSError:
        return False
    lines = text.split("\n")
    opening = next((i for i, line in enumerate(lines) if line.replace(" ", "").startswith("deactivate(){")), None)
    if opening is None:
        return False
    if env:
        restore = [f"    {BEGIN}"]
        for name in sorted(env):
            saved = f"_ENVBUILD_OLD_{name}"
            restore += [f'    if [ -n "${{{saved}+_}}" ] ; then {name}="${saved}"; export {name}; unset {saved}',
                        f"    elif [ -n \"${{_ENVBUILD_ENV+_}}\" ] ; then unset {name}",
                        "    fi"]
        restore += ["    unset _ENVBUILD_ENV", f"    {END}"]
        lines[opening + 1:opening + 1] = restore
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", BEGIN, "# the lock's [env] (envbuild sync writes this; deactivate restores the shell's own)",
                  "_ENVBUILD_ENV=1"]
        for name in sorted(env):
            lines += [f'if [ -n "${{{name}+_}}" ] ; then _ENVBUILD_OLD_{name}="${name}"; fi',
                      f"{name}={_quote(env[name])}", f"export {name}"]
        lines += [END, ""]
    import envbuild.atomic

    envbuild.atomic.write(path, "\n".join(lines).encode("utf-8"))
    return True


def activation_env(venv: str) -> "dict[str, str] | None":
    """The ``[env]`` that VENV's ``bin/activate`` exports (sync's block), or None when it has no such block."""
    try:
        with open(os.path.join(venv, "bin", "activate"), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    start = text.rfind("\n" + BEGIN + "\n")
    if start < 0:
        return None
    out: dict[str, str] = {}
    for line in text[start + len(BEGIN) + 2:].split("\n"):
        if line.strip() == END:
            return out
        name, sep, value = line.partition("=")
        if sep and name.isidentifier() and not line.startswith(("if ", "_ENVBUILD")):
            out[name] = _unquote(value)
    return None  # no end mark: not a block sync wrote
