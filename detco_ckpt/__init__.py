# Copyright (c) detco_mm contributors. All rights reserved.
"""The one reader (and writer) of DetCo files: what a file is, and its backbone.

Every tool that takes a DetCo file (converters, transfer set-up, analysis tools) decides
through this module what the file is, so there is one rule. It needs torch only, not
``detco_mm``: importing that package pulls in mmselfsup, mmcls and mmcv (seconds of start-up
and their warnings), and the converters should also run where only torch is installed (e.g.
next to detectron2). Hence a top-level package of the same distribution, not a
``detco_mm`` submodule (whose import would run ``detco_mm/__init__``).

Files are only ever read with ``torch.load(weights_only=True)``: that never runs code named
by a pickle, and DetCo checkpoints written by ``WeightsOnlyCheckpointHook`` do not need
more. Every way a file can fail raises ``CheckpointError`` with a one-line message. Files
are only ever written whole (``atomic_file``): a crash or a full disk leaves the old file or
none, never a torn one.

Kinds of DetCo file:
    ``'detco'``: a training checkpoint (mmengine ``{'meta', 'state_dict', ...}`` whose
        state_dict has the per-stage ``DetCoNeck`` MLPs); its backbone is under
        ``backbone.`` (query encoder) or ``encoder_k.module.backbone.`` (key encoder).
    ``'backbone'``: the output of ``tools/model_converters/detco_to_backbone.py``,
        ``{'state_dict': backbone, 'meta': {'source', 'encoder', ...}}``.
"""
import contextlib
import os
import pickle
import re
import uuid
import warnings
from typing import BinaryIO, Dict, Iterator, Tuple, Union
from urllib.parse import urlparse
from urllib.request import url2pathname

import torch

# Prefixes of the query encoder and of the momentum (key) encoder in ``DetCo.state_dict()``:
# ``DetCo.encoder_k`` is an mmengine ``ExponentialMovingAverage`` that wraps the
# ``ModuleDict(backbone=..., neck=...)`` in its ``module``.
QUERY_PREFIX = 'backbone.'
MOMENTUM_PREFIX = 'encoder_k.module.backbone.'
# Only ``DetCoNeck`` has per-stage global MLPs; MoCo, SimCLR & co. have a single ``neck``.
DETCO_NECK_PREFIX = 'neck.global_mlps.'
# ``meta`` keys that mark a file written by detco_to_backbone.py.
BACKBONE_META_KEYS = ('source', 'encoder')
# Prefix of the temporary files of ``atomic_file``; no '.pth' suffix, so nothing that looks
# for checkpoints (mmengine's ``last_checkpoint``, globs for ``*.pth``) ever takes a torn one.
TMP_PREFIX = '.tmp-detco-'


class CheckpointError(Exception):
    """The file is not a usable DetCo file; the message is one line naming the file."""


@contextlib.contextmanager
def atomic_file(path: str) -> Iterator[BinaryIO]:
    """A binary file to write that becomes ``path`` only once it is complete.

    The bytes go to a temporary file in the same directory (``os.replace`` is atomic only
    within one file system), are flushed to disk (``fsync``), and only then is the file
    renamed over ``path``; the directory is synced so the rename itself survives a power cut.
    On any error (a full disk, a kill) the temporary file is removed and ``path`` keeps its old
    content, or stays absent. Created like ``open(path, 'wb')``, mode 0666 less the umask:
    ``tempfile.mkstemp`` would make every checkpoint 0600 while the logs beside it are 0644.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f'{TMP_PREFIX}{os.path.basename(path)}.{uuid.uuid4().hex[:8]}')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(data: Union[bytes, str], path: str) -> None:
    """Write ``data`` (str as UTF-8) to ``path`` through ``atomic_file``."""
    with atomic_file(path) as file:
        file.write(data.encode('utf-8') if isinstance(data, str) else data)


def _first_sentence(error: BaseException) -> str:
    """torch's load errors run over several lines; the first sentence names the cause."""
    text = ' '.join(str(error).split())
    return text.split('. ')[0].rstrip('.') or type(error).__name__


def local_path(path: str, model_dir: str = None, progress: bool = True) -> str:
    """The local file behind ``path``: ``path`` itself, the file of a ``file://`` URL, or the
    torch hub cache file of an ``http(s)://`` URL, downloaded there first if it is not yet.

    The cache is ``torch.hub.load_state_dict_from_url``'s (``model_dir``, default
    ``<torch.hub.get_dir()>/checkpoints``, named after the URL's last part), so a file torch or
    mmengine fetched is found again. Not that function itself: it unpickles the file with its
    own arguments and words errors as torch's page of advice.

    Raises:
        CheckpointError: The download failed.
    """
    scheme = urlparse(path).scheme
    if scheme == 'file':
        return url2pathname(urlparse(path).path)
    if scheme not in ('http', 'https'):
        return path
    model_dir = model_dir or os.path.join(torch.hub.get_dir(), 'checkpoints')
    cached = os.path.join(model_dir, os.path.basename(urlparse(path).path))
    if not os.path.isfile(cached):
        os.makedirs(model_dir, exist_ok=True)
        try:
            # writes a temporary file and renames it: no torn file in the cache
            torch.hub.download_url_to_file(path, cached, progress=progress)
        except Exception as error:  # URLError, HTTPError, timeouts, SSL errors...
            raise CheckpointError(f'{path}: cannot download it to {cached} '
                                  f'({type(error).__name__}: {_first_sentence(error)})') from None
    return cached


def weights(checkpoint: object) -> Dict[str, torch.Tensor]:
    """The tensors of the model in a loaded file: its ``state_dict`` entry, or the file
    itself when it is a bare state_dict (torchvision's files)."""
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    if not isinstance(state_dict, dict):
        return {}
    return {key: value for key, value in state_dict.items() if isinstance(value, torch.Tensor)}


def load(path: str, mmap: bool = False, model_dir: str = None, progress: bool = True) -> object:
    """Load ``path`` with ``torch.load(weights_only=True)`` onto the CPU; refuse weights that
    hold NaN or Inf.

    Args:
        path (str): Checkpoint file, ``file://`` URL, or ``http(s)://`` URL (read from the
            torch hub cache, downloaded there if needed: see ``local_path``).
        mmap (bool): Map the file instead of reading it into memory (the finiteness check
            reads each weight once, through the page cache).
        model_dir (str, optional): Cache folder of URLs; torch hub's by default.
        progress (bool): Show the progress of a download.

    Returns:
        The loaded object (not yet checked to be a DetCo file).

    Raises:
        CheckpointError: Missing, unreadable, corrupt, holding non-tensor objects, or with a
        non-finite weight (``check_finite``).
    """
    file = local_path(path, model_dir, progress)
    # A URL is named with its cache file: that is the file to delete or inspect.
    name = path if file == path else f'{path} ({file})'
    if not os.path.isfile(file):
        raise CheckpointError(f'{name}: no such file')
    try:
        with warnings.catch_warnings():
            # For non-torch pickles torch first warns about the pickle protocol, then
            # refuses the file; the error below says what matters.
            warnings.simplefilter('ignore')
            checkpoint = torch.load(file, map_location='cpu', weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        # torch words it "Unsupported global: GLOBAL x.y ..." or, for modules it blocks
        # outright (os, posix, subprocess, builtins...), "unsupported GLOBAL x.y whose module"
        unsafe = re.search(r'unsupported global:? (?:GLOBAL )?([\w.]+)', str(error), re.I)
        if unsafe:
            raise CheckpointError(
                f'{name}: torch.load(weights_only=True) refused it, it holds a '
                f'{unsafe.group(1)} object; nothing in it was run (an mmengine checkpoint saved '
                f'without detco_mm\'s WeightsOnlyCheckpointHook, or a file crafted to run code '
                f'when unpickled)') from None
        raise CheckpointError(f'{name}: not a file written by torch.save, or a corrupt one; '
                              f'refused by torch.load(weights_only=True), nothing in it was run '
                              f'({_first_sentence(error)})') from None
    except Exception as error:  # torch.load raises many types for damaged files
        raise CheckpointError(f'{name}: unreadable, truncated or corrupt checkpoint '
                              f'({type(error).__name__}: {_first_sentence(error)})') from None
    check_finite(weights(checkpoint), f'{name}: ')
    return checkpoint


def kind(checkpoint: object, path: str) -> str:
    """What a loaded file is: ``'detco'`` or ``'backbone'`` (see the module docstring).

    Args:
        checkpoint: What ``load`` returned.
        path (str): The file it came from, for the messages.

    Raises:
        CheckpointError: A bare state_dict, a non-mmengine file or another algorithm.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{path}: holds a {type(checkpoint).__name__}, not an mmengine '
                              f'checkpoint dict')
    state_dict = checkpoint.get('state_dict')
    if not isinstance(state_dict, dict):
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise CheckpointError(
                f'{path}: a bare state_dict (first key {next(iter(checkpoint))!r}), not a '
                f'DetCo training checkpoint with meta and state_dict')
        raise CheckpointError(f'{path}: no state_dict entry (top-level keys: '
                              f'{", ".join(map(str, list(checkpoint)[:6]))})')
    if any(key.startswith(DETCO_NECK_PREFIX) for key in state_dict):
        return 'detco'
    meta = checkpoint.get('meta')
    if isinstance(meta, dict) and all(k in meta for k in BACKBONE_META_KEYS):
        return 'backbone'
    modules = sorted({key.split('.')[0] for key in state_dict})
    raise CheckpointError(f'{path}: not a DetCo checkpoint, no {DETCO_NECK_PREFIX}* keys '
                          f'of DetCoNeck (its modules: {", ".join(modules)})')


def detco_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a DetCo training checkpoint (kind ``'detco'``).

    Raises:
        CheckpointError: See ``load`` and ``kind``; or a converted backbone file.
    """
    checkpoint = load(path)
    if kind(checkpoint, path) != 'detco':
        raise CheckpointError(f'{path}: a converted backbone ({checkpoint["meta"]["encoder"]}* '
                              f'of {checkpoint["meta"]["source"]}), not a DetCo training '
                              f'checkpoint')
    return checkpoint['state_dict']


def extract_backbone(state_dict: Dict[str, torch.Tensor],
                     prefix: str) -> Dict[str, torch.Tensor]:
    """The tensors under ``prefix``, with the prefix removed (mmselfsup/mmdet ResNet naming)."""
    return {key[len(prefix):]: value for key, value in state_dict.items()
            if key.startswith(prefix)}


def check_finite(tensors: Dict[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or Inf: a diverged run, not a backbone to fine-tune.

    Args:
        tensors (dict[str, Tensor]): The weights.
        where (str): Prefix of the message, e.g. ``'epoch_3.pth: '``.

    Raises:
        CheckpointError: Naming the first non-finite tensor and how many there are.
    """
    bad = [key for key, value in tensors.items()
           if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if bad:
        raise CheckpointError(f'{where}{bad[0]} holds NaN or Inf ({len(bad)} of '
                              f'{len(tensors)} tensors do: the run diverged); use an earlier '
                              f'checkpoint')


def load_backbone(path: str, momentum_encoder: bool = False
                  ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Backbone of the query encoder (default) or of the momentum encoder of a DetCo
    training checkpoint.

    Args:
        path (str): DetCo training checkpoint (``work_dirs/.../epoch_N.pth``).
        momentum_encoder (bool): Take ``encoder_k`` instead of ``backbone``.

    Returns:
        tuple[dict, dict]: The backbone state_dict, and a small ``meta`` (source file,
        encoder prefix, epoch and iter of the checkpoint) for a converted file.

    Raises:
        CheckpointError: See ``load`` and ``kind``; or no tensors under the prefix.
    """
    checkpoint = load(path)
    if kind(checkpoint, path) != 'detco':
        raise CheckpointError(f'{path}: already a converted backbone '
                              f'({checkpoint["meta"]["encoder"]}* of '
                              f'{checkpoint["meta"]["source"]}); convert the training '
                              f'checkpoint instead')
    prefix = MOMENTUM_PREFIX if momentum_encoder else QUERY_PREFIX
    backbone = extract_backbone(checkpoint['state_dict'], prefix)
    if not backbone:
        raise CheckpointError(f'{path}: no {prefix}* tensors in its state_dict')
    source_meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    meta = dict(source=os.path.abspath(path), encoder=prefix,
                **{k: source_meta[k] for k in ('epoch', 'iter') if k in source_meta})
    return backbone, meta


# The block layout of each torchvision/mmcv ResNet depth: blocks per stage, bottleneck or not.
RESNET_LAYOUTS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34,
                  ((3, 4, 6, 3), True): 50, ((3, 4, 23, 3), True): 101,
                  ((3, 8, 36, 3), True): 152}


def resnet_name(keys) -> str:
    """``'ResNet-50'`` & co. for the keys of a whole ResNet (stem and layer1..4), else ``''``."""
    blocks = []
    for stage in range(1, 5):
        indices = {int(key.split('.')[1]) for key in keys
                   if key.startswith(f'layer{stage}.') and key.split('.')[1].isdigit()}
        blocks.append(max(indices) + 1 if indices else 0)
    depth = RESNET_LAYOUTS.get((tuple(blocks), 'layer1.0.conv3.weight' in keys))
    return f'ResNet-{depth}' if depth else ''


def init_tensors(path: str, prefix: str = None,
                 checkpoint: object = None) -> Dict[str, torch.Tensor]:
    """The tensors mmengine's ``init_cfg=dict(type='Pretrained', checkpoint=path, prefix=...)``
    offers a module, read the safe way.

    Same selection as mmengine 0.10.7 (``PretrainedInit``): the ``state_dict`` entry if there
    is one, then the keys under ``prefix`` with it removed, or, without a prefix, all keys
    with a leading ``module.`` (DataParallel) removed.

    Args:
        path (str): The file (for the messages, and read when ``checkpoint`` is None).
        prefix (str, optional): The ``init_cfg.prefix``.
        checkpoint (optional): What mmengine's loader returned for ``path`` (its
            ``torchvision://`` & co. schemes resolve to a file only mmengine knows).

    Raises:
        CheckpointError: See ``load``; or no tensor dict in the file.
    """
    # mmap: the tensors stay in the page cache, not copied into memory (a whole DetCo
    # checkpoint holds two encoders and 2 x 4 queues).
    if checkpoint is None:
        checkpoint = load(path, mmap=True)
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise CheckpointError(f'{path}: holds a {type(checkpoint).__name__}, not a state_dict')
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        return extract_backbone(state_dict, prefix)
    return {re.sub(r'^module\.', '', key): value for key, value in state_dict.items()}


def _prefix_hint(path: str, prefix: str, checkpoint: object = None) -> str:
    """How to point ``init_cfg`` at the backbone of ``path``, from what the file is."""
    try:
        file_kind = kind(load(path, mmap=True) if checkpoint is None else checkpoint, path)
    except CheckpointError:
        return 'init_cfg.prefix must select the backbone\'s tensors of the file'
    if file_kind == 'detco':
        return (f'a DetCo training checkpoint: set init_cfg.prefix={QUERY_PREFIX} (or convert '
                f'it with tools/model_converters/detco_to_backbone.py)')
    return f'a converted backbone file: remove init_cfg.prefix (now {prefix!r})'


def check_init(model_shapes: Dict[str, tuple], path: str, prefix: str = None,
               target: str = 'the model', checkpoint: object = None) -> int:
    """Refuse a ``Pretrained`` init that would leave part of a module at random.

    mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs missing keys and
    size mismatches, so a ResNet-18 file in a ResNet-50 config, a wrong ``prefix`` or another
    model's file fine-tunes from random weights without stopping. Here every part of the
    module that the file holds (its top-level names: ``conv1``, ``layer1``..) must load
    completely with equal shapes, and at least one must. Parts the file does not have at all
    are new modules of the fine-tuning model (the norm after res5 of the C4 heads) and keep
    their own init.

    Args:
        model_shapes (dict[str, tuple]): Names and shapes of the module's state_dict.
        path (str): The ``init_cfg.checkpoint`` file.
        prefix (str, optional): The ``init_cfg.prefix``.
        target (str): The module's name in the config, for the message.
        checkpoint (optional): The loaded file, see ``init_tensors``.

    Returns:
        int: How many of the module's tensors the file initialises.

    Raises:
        CheckpointError: One line naming the file, the first mismatching key, both shapes
        and the fix.
    """
    tensors = init_tensors(path, prefix, checkpoint)
    file_parts = {key.split('.')[0] for key in tensors}
    required = [key for key in model_shapes if key.split('.')[0] in file_parts]
    if not tensors:
        raise CheckpointError(f'{path}: no tensor of the file is under prefix {prefix!r}; '
                              f'{_prefix_hint(path, prefix, checkpoint)}')
    if not required:
        where = f'under prefix {prefix!r}' if prefix else 'without a prefix'
        raise CheckpointError(
            f'{path}: none of the {target} tensors (e.g. {next(iter(model_shapes))}) are in the '
            f'file {where} (its keys start with {", ".join(sorted(file_parts)[:6])}); '
            f'{_prefix_hint(path, prefix, checkpoint)}')
    file_net, model_net = resnet_name(tensors), resnet_name(model_shapes)
    for key in required:
        shape = model_shapes[key]
        found = tuple(tensors[key].shape) if key in tensors else None
        if found == tuple(shape):
            continue
        if file_net and model_net and file_net != model_net:
            what = f'a {file_net} checkpoint into a {model_net} config'
            fix = f'use a config with a {file_net} backbone, or a {model_net} DetCo file'
        else:
            what = f'a {file_net + " " if file_net else ""}checkpoint that does not fit {target}'
            fix = 'use the file of the network the config builds'
        raise CheckpointError(
            f'{path}: {what}: {target}.{key} is {"missing" if found is None else found} in '
            f'the file, {tuple(shape)} in the model; {fix}')
    return len(required)
