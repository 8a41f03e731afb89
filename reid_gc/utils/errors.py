"""The one exception type for problems a user can cause and fix (paths, config values, data)."""


class UserError(Exception):
    """A one-line message naming the problem and the fix; the CLIs print it alone and exit 2."""


class UnreadableFileError(UserError):
    """A file that exists but cannot be decoded (truncated, corrupt); a caller may fall back to another."""
