"""The one exception root of envbuild.

Every error a user can cause (bad input, an unreachable index, a resolver conflict) is an
``EnvbuildError``.  Messages are built from data, so they read the same wherever they are raised.
One place turns them into a line on stderr and an exit code, ``envbuild.options.answer`` (with
``EnvbuildError.report``), where every command ends; anything else that escapes is our bug and keeps its traceback.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the drift check imports this module)
if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK = 0
EXIT_DRIFT = 1  # also: `lock --check` found the lock out of date
EXIT_ERROR = 2


class EnvbuildError(Exception):
    """Base of every error a user can cause.  ``str()`` is the one line shown to the user."""

    exit_code = EXIT_ERROR

    def report(self, prog: str = "envbuild") -> int:
        """Show the one line on stderr and return the exit code (for ``envbuild.options.answer``, the one exit of
        every command, and only for it)."""
        import sys

        sys.stderr.write(f"{prog}: error: {self}\n")
        return self.exit_code


def key_path(table: "str | None", keys: "Sequence[str | int]") -> str:
    """Render a location inside a TOML document: ``[python] -> requirements[2]``."""
    head = f"[{table}]" if table else ""
    parts = [head] if head else []
    for key in keys:
        if isinstance(key, int):
            if parts:
                parts[-1] += f"[{key}]"
            else:
                parts.append(f"[{key}]")
        else:
            parts.append(key)
    return " -> ".join(parts)


class ConfigError(EnvbuildError):
    """A file the user wrote (the spec, a requirements file) is malformed."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        self.path = path
        self.where = where
        self.problem = problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


class SpecNotFound(EnvbuildError):
    def __init__(self, searched: "Sequence[str]") -> None:
        self.searched = list(searched)
        super().__init__(
            "no envbuild spec found (looked for "
            + " and ".join(self.searched)
            + "); write an envbuild.toml or pass -s SPEC"
        )


class LockfileError(EnvbuildError):
    """The lock cannot be read: missing, not TOML, an unknown version, a malformed field."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def unreadable_lock(path: str, exc: "OSError | UnicodeDecodeError", *, with_option: bool = False) -> LockfileError:
    """The one way a lock file that cannot be read is said (the lock reader's and the check's), from the error
    that reading it raised; WITH_OPTION: the command takes -l LOCK, and says so."""
    if isinstance(exc, FileNotFoundError):
        return LockfileError(path, "no such lock (create it with envbuild lock" + (", or give -l LOCK)" if
                                                                                   with_option else ")"))
    if isinstance(exc, IsADirectoryError):
        return LockfileError(path, f"is a directory; give the lock file ({'-l ' if with_option else ''}"
                                   "DIR/envbuild.lock)")
    return LockfileError(path, f"cannot read: {exc.strerror or exc}" if isinstance(exc, OSError) else
                         f"cannot read: {exc}")


class MissingLockfileVersion(LockfileError):
    def __init__(self, path: str) -> None:
        super().__init__(path, "no 'version' key: this is not an envbuild lock (regenerate it with envbuild lock)")


class UnknownLockfileVersion(LockfileError):
    def __init__(self, path: str, version: object, supported: int) -> None:
        self.version = version
        super().__init__(
            path,
            f"lock version {version!r} is not one this envbuild reads (it reads versions 1 to {supported}); "
            "upgrade envbuild or regenerate the lock",
        )


class ToolMissing(EnvbuildError):
    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} is not available: {hint}")


class ResolutionError(EnvbuildError):
    """The resolver ran and said no: a conflict, a package that does not exist, an unreachable index."""

    def __init__(self, resolver: str, detail: str, full: str = "") -> None:
        self.resolver = resolver
        self.detail = detail
        self.full = full  # the resolver's whole output (lock -v prints it)
        super().__init__(f"{resolver} could not resolve the Python requirements: {detail}")


class UnsupportedTarget(EnvbuildError):
    """The chosen tool cannot produce or install for the requested target."""


class SyncError(EnvbuildError):
    """Installing the lock into a virtual environment failed."""


class ExportError(EnvbuildError):
    """The lock cannot be expressed in the requested format."""


class RenderError(EnvbuildError):
    """The lock cannot be rendered: a value that is unsafe in a build file, a missing template, a file in the way."""


class BuildError(EnvbuildError):
    """The image could not be built, verified or pushed."""
