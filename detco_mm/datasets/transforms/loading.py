# Copyright (c) detco_mm contributors. All rights reserved.
"""Image loading that tells a bad file from a good one, and names it."""
import os

import mmcv
import mmengine.fileio as fileio
from mmcv.transforms import LoadImageFromFile
from mmselfsup.registry import TRANSFORMS

JPEG_START, JPEG_END = b'\xff\xd8', b'\xff\xd9'
PNG_START, PNG_END = b'\x89PNG\r\n\x1a\n', b'IEND'


class BadImageError(ValueError):
    """An image file that cannot be used; the message is one line naming the file."""


def printable(path: str) -> str:
    """``path`` for a log line: names that are not UTF-8 (read from the list with
    surrogateescape, see ``CheckedImageList``) would make printing fail."""
    return os.fsencode(path).decode('utf-8', 'backslashreplace')


def undecodable(img_bytes: bytes) -> str:
    """Why bytes that the decoder refused are not an image, as precisely as cheaply known."""
    if img_bytes[:2] == JPEG_START and not img_bytes.rstrip(b'\0').endswith(JPEG_END):
        return 'truncated JPEG (no end-of-image marker)'
    if img_bytes[:8] == PNG_START and PNG_END not in img_bytes[-12:]:
        return 'truncated PNG (no IEND chunk)'
    return f'not a decodable image ({len(img_bytes)} bytes, starting {img_bytes[:8]!r})'


@TRANSFORMS.register_module()
class LoadImageChecked(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that raises ``BadImageError`` naming the file and the
    problem for a missing, unreadable, empty, undecodable or truncated file.

    mmcv's transform fails on these with errors that do not always name the file (a 0-byte
    file gives a bare cv2 assertion). Truncated files are refused by the decoder (OpenCV 4.11
    returns no image for a cut JPEG or PNG, where older libjpeg builds decoded the rest as
    gray; tests/test_reliability_images.py checks it), and this transform says why. A
    ``CheckedImageList`` dataset turns ``BadImageError`` into a skip (see there); any other
    dataset stops with the message. Good images load exactly as with mmcv's transform
    (grayscale, RGBA, palette and 16-bit PNG and CMYK JPEG all become 8-bit BGR with the
    default ``color_type='color'``).

    Args: as mmcv's ``LoadImageFromFile``, without the deprecated ``file_client_args`` and
    without ``ignore_empty`` (a ``CheckedImageList`` skips bad files and counts them).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.ignore_empty or self.file_client_args is not None:
            raise ValueError('LoadImageChecked: ignore_empty and file_client_args are not '
                             'supported; use backend_args, and CheckedImageList('
                             'skip_bad_images=True) to skip bad files')

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise BadImageError(f'{printable(path)}: no such file') from None
        except OSError as error:
            raise BadImageError(f'{printable(path)}: cannot read it '
                                f'({error.strerror or error})') from None
        if not img_bytes:
            raise BadImageError(f'{printable(path)}: empty file (0 bytes)')
        try:
            img = mmcv.imfrombytes(img_bytes, flag=self.color_type,
                                   backend=self.imdecode_backend)
        except Exception:  # cv2.error, PIL errors: the decoder's own reason is not useful
            img = None
        if img is None or img.size == 0:
            raise BadImageError(f'{printable(path)}: {undecodable(img_bytes)}')
        if self.to_float32:
            img = img.astype('float32')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
