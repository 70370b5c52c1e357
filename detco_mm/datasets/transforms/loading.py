# Copyright (c) detco_mm contributors. All rights reserved.
"""Image loading that tells a bad file from a good one, and names it."""
import io
import os
import stat
import warnings
from typing import Optional, Tuple

import mmcv
import mmengine.fileio as fileio
from mmcv.transforms import LoadImageFromFile
from PIL import Image

JPEG_START, JPEG_END = b'\xff\xd8', b'\xff\xd9'
PNG_START, PNG_END = b'\x89PNG\r\n\x1a\n', b'IEND'
# Files that are not images even when named x.jpg: opening a FIFO blocks until a writer
# comes, reading a device such as /dev/zero never ends.
NOT_REGULAR = ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO (named pipe)'),
               (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'),
               (stat.S_ISSOCK, 'a socket'))
# PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS, 89478485: ~9459 x 9459), the default
# of LoadImageChecked(max_pixels): a 249 KB PNG of 16000 x 16000 px decodes to 768 MB of
# uint8 BGR, and the float copies of the pipeline take several times that.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS


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


def header_pixels(img_bytes: bytes) -> Optional[Tuple[int, str]]:
    """Pixel count of an encoded image read from its header, without decoding it (PIL's
    ``Image.open`` is lazy), and how to say it; None when PIL cannot read the header (the
    decoder then decides). Above twice its limit PIL refuses to return the size at all, so
    that is a lower bound."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)  # our limit decides
        try:
            with Image.open(io.BytesIO(img_bytes)) as img:
                width, height = img.size
        except Image.DecompressionBombError:
            bound = 2 * Image.MAX_IMAGE_PIXELS
            return bound + 1, f'more than {bound} pixels'
        except Exception:  # not a format PIL knows, or a damaged header
            return None
    return width * height, f'{width}x{height} = {width * height} pixels'


class LoadImageChecked(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that raises ``BadImageError`` naming the file and the
    problem for a missing, unreadable, empty, undecodable or truncated file, for a local path
    that is not a regular file (a FIFO, a device, a directory: never opened, as reading
    it could block forever), and for an image of more than ``max_pixels`` pixels (read from
    its header, before anything is decoded).

    mmcv's transform fails on these with errors that do not always name the file (a 0-byte
    file gives a bare cv2 assertion). Truncated files are refused by the decoder (OpenCV 4.11
    returns no image for a cut JPEG or PNG, where older libjpeg builds decoded the rest as
    gray; tests/test_reliability_images.py checks it), and this transform says why. A
    ``CheckedImageList`` dataset turns ``BadImageError`` into a skip (see there); any other
    dataset stops with the message. Good images load exactly as with mmcv's transform
    (grayscale, RGBA, palette and 16-bit PNG and CMYK JPEG all become 8-bit BGR with the
    default ``color_type='color'``).

    Args:
        max_pixels (int, optional): Largest width x height decoded. Defaults to PIL's
            decompression-bomb limit (``MAX_PIXELS``); None: no limit. Formats whose header
            PIL cannot read are decoded whatever their size (OpenCV's own limit applies).
        Others: as mmcv's ``LoadImageFromFile``, without the deprecated ``file_client_args``
            and without ``ignore_empty`` (a ``CheckedImageList`` skips bad files and counts
            them).
    """

    def __init__(self, *args, max_pixels: Optional[int] = MAX_PIXELS, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.ignore_empty or self.file_client_args is not None:
            raise ValueError('LoadImageChecked: ignore_empty and file_client_args are not '
                             'supported; use backend_args, and CheckedImageList('
                             'skip_bad_images=True) to skip bad files')
        if max_pixels is not None and (isinstance(max_pixels, bool)
                                       or not isinstance(max_pixels, int) or max_pixels < 1):
            raise ValueError(f'LoadImageChecked: max_pixels={max_pixels!r} must be a positive '
                             f'integer (width x height) or None (no limit)')
        self.max_pixels = max_pixels

    def check_regular_file(self, path: str) -> None:
        """A local path must be a regular file (checked with ``os.stat``, which opens
        nothing); other backends' paths are left to the backend."""
        backend = fileio.get_file_backend(path, backend_args=self.backend_args,
                                          enable_singleton=True)
        if not isinstance(backend, fileio.LocalBackend):
            return
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise BadImageError(f'{printable(path)}: no such file') from None
        except OSError as error:
            raise BadImageError(f'{printable(path)}: cannot read it '
                                f'({error.strerror or error})') from None
        if not stat.S_ISREG(mode):
            kind = next((name for is_kind, name in NOT_REGULAR if is_kind(mode)),
                        'a special file')
            raise BadImageError(f'{printable(path)}: {kind}, not a regular file; not opened')

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        self.check_regular_file(path)
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise BadImageError(f'{printable(path)}: no such file') from None
        except OSError as error:
            raise BadImageError(f'{printable(path)}: cannot read it '
                                f'({error.strerror or error})') from None
        if not img_bytes:
            raise BadImageError(f'{printable(path)}: empty file (0 bytes)')
        pixels = header_pixels(img_bytes) if self.max_pixels is not None else None
        if pixels is not None and pixels[0] > self.max_pixels:
            raise BadImageError(f'{printable(path)}: {pixels[1]}, more than LoadImageChecked('
                                f'max_pixels={self.max_pixels}); not decoded')
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
