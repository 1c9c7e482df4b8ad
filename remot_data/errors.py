"""Errors raised by the dataset library; each subclasses a builtin so ``except ValueError`` keeps working."""

from __future__ import annotations


class RemotError(Exception):
    """Base class of every remot error."""


class SourceFormatError(RemotError, ValueError):
    """An input file does not follow its source format: the message names the file, the field and the value."""


class ContractError(RemotError, ValueError):
    """A table breaks the data contract in ``schemas/``: the message names the column, rows and check."""


class FrameExtractionError(RemotError, RuntimeError):
    """Frames could not be read: the message names the file, the frames and the decoder's complaint."""


class OutputError(RemotError, ValueError):
    """An output path remot must not write: an input, inside or above one, not remot's own, or being written."""


# What reading a source can raise for bad input (remot's own errors, a value a parser refuses, an unreadable file):
# where a clip fails with one of these, the clip is reported, not the run stopped.
READ_ERRORS: tuple[type[Exception], ...] = (RemotError, ValueError, OSError)
