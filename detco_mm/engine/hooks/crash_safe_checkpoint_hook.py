# Copyright (c) detco_mm contributors. All rights reserved.
"""Checkpoints that a kill -9 at any moment cannot tear, and resumes that continue the run."""
import os
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from detco_ckpt import TMP_PREFIX, atomic_write

ATOMIC_BACKEND = 'detco_atomic_local'
RNG_KEY = 'detco_rng_states'


@register_backend(ATOMIC_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put``/``put_text``.

    mmengine 0.10.7 writes a checkpoint with ``open(path, 'wb').write(...)``
    (``LocalBackend.put``): a kill during the write leaves a torn ``epoch_N.pth``. Every
    checkpoint write goes through the file backend named by the checkpoint hook's
    ``backend_args``, so a backend is where atomicity belongs.
    """

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(obj, str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), str(filepath))


def get_rng_states() -> dict:
    """The states of every random number generator a training step draws from."""
    keys, pos, has_gauss, gauss = np.random.get_state()[1:]
    return dict(
        python=random.getstate(),
        # weights_only loads take tensors and numbers, not numpy arrays
        numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(gauss)),
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [])


def set_rng_states(states: dict) -> None:
    """Inverse of ``get_rng_states``."""
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))
    npy = states['numpy']
    np.random.set_state(('MT19937', npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached_gaussian']))
    torch.set_rng_state(states['torch'])
    if states['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class CrashSafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, made safe against a kill at any moment.

    Three changes, same arguments and file names as the stock hook:

    1. Atomic files (``AtomicLocalBackend``): a checkpoint and ``last_checkpoint`` are
       written to a temporary file and renamed, so a kill during a save leaves the previous
       files intact and ``--resume`` never sees a torn one. Torn temporary files of a killed
       run are removed at the start of the next one.
    2. Order: mmengine 0.10.7 deletes the oldest checkpoint *before* writing the new one; with
       ``max_keep_ckpts=1`` a kill during the save leaves no checkpoint at all. Here the old
       one is deleted only after the new one and ``last_checkpoint`` are complete.
    3. Random streams: mmengine re-seeds on resume, so the resumed run draws other crops and
       other shuffle-BN permutations than the run it replaces. The checkpoint also holds
       every rank's random number generator states, restored before the first resumed step;
       with ``randomness=dict(seed=..., deterministic=True)`` the resumed run continues
       the same run (same world size, otherwise the seeds stand; data workers started
       afresh each epoch, as persistent workers' random streams are in no checkpoint).

    Subclassing (rather than a second hook) keeps one owner for the checkpoint files; the
    runtime config names it as ``default_hooks.checkpoint``. Non-local ``out_dir`` or
    ``backend_args`` keep their own backend (object stores write a file atomically) and
    still get 2 and 3.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        local = self.out_dir is None or '://' not in str(self.out_dir)
        if self.backend_args is None and self.file_client_args is None and local:
            self.backend_args = dict(backend=ATOMIC_BACKEND)
        self._rng_states = None
        self._resumed_rng_states = None

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            for name in os.listdir(self.out_dir) if osp.isdir(self.out_dir) else ():
                if name.startswith(TMP_PREFIX):
                    os.remove(osp.join(self.out_dir, name))
                    runner.logger.warning(f'Removed {name}, a checkpoint torn by a killed run')
        if self._resumed_rng_states is not None:
            states, iteration = self._resumed_rng_states
            self._resumed_rng_states = None
            # Here, not in after_load_checkpoint: Runner.resume re-seeds after loading. Only
            # when resumed (the loop continues at the checkpoint's iteration): a run that
            # starts from a checkpoint's weights (load_from) keeps its own seed.
            if runner.iter != iteration:
                return
            if len(states) != get_world_size():
                runner.logger.warning(
                    f'{RNG_KEY}: the checkpoint has the random states of {len(states)} '
                    f'processes, this run has {get_world_size()}; the resumed run re-seeds '
                    f'instead')
                return
            set_rng_states(states[get_rank()])

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._rng_states is not None:
            checkpoint[RNG_KEY] = self._rng_states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if RNG_KEY in checkpoint:
            self._resumed_rng_states = (checkpoint[RNG_KEY], checkpoint['meta'].get('iter'))

    def _save_checkpoint_with_step(self, runner, step, meta):
        # Same bookkeeping as mmengine 0.10.7's CheckpointHook._save_checkpoint_with_step,
        # re-ordered: save, point last_checkpoint at it, and only then delete.
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # Every rank takes part (the save itself is rank 0's): one state per rank.
        self._rng_states = all_gather_object(get_rng_states())
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        self._rng_states = None
        if not is_main_process():
            return
        atomic_write(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        if outdated is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
