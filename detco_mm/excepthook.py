# Copyright (c) detco_mm contributors. All rights reserved.
"""A refused checkpoint ends the process with its one-line reason, not a traceback."""
import sys

from detco_ckpt import CheckpointError


def install_checkpoint_error_hook() -> None:
    """Print an uncaught ``detco_ckpt.CheckpointError`` as ``CheckpointError: <reason>``, alone.

    The reason names the file, the key and the fix; the traceback above it runs through
    mmengine's Runner and tells a user nothing more. Under ``mim train`` the reason is then
    the line just above mim's own ``subprocess.CalledProcessError``, which the project cannot
    change. Installed on ``import detco_mm``, i.e. by every config's ``custom_imports``, since
    ``mim train`` runs the toolbox's train.py, never ours. Every other exception goes to the
    hook that was there before (Python's, or a debugger's), and the exit status stays 1.
    """
    previous = sys.excepthook
    if getattr(previous, 'detco_checkpoint_error_hook', False):
        return

    def excepthook(kind, error, traceback) -> None:
        if issubclass(kind, CheckpointError):
            sys.stderr.write(f'{kind.__name__}: {error}\n')
        else:
            previous(kind, error, traceback)

    excepthook.detco_checkpoint_error_hook = True
    sys.excepthook = excepthook
