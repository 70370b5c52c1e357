# Copyright (c) detco_mm contributors. All rights reserved.
"""`torchrun --nproc_per_node 2` (gloo, CPU) vs one process at the doubled batch, for each face
(mmselfsup's and mmpretrain's train.py, the same tiny config of each).

Both runs see the same 8 images (2 steps of 8) with the same seed. Batch-norm statistics are
per process by design (shuffle-BN exists because of it), so the test swaps in GroupNorm,
which makes each image's features independent of its batch companions, and a deterministic
pipeline; then 2 processes x 4 images must compute what 1 process x 8 images computes, up
to float summation order. The one process is mmselfsup's, for both faces: the faces build the
same initial weights and compute the same losses (tests/test_mmpretrain_backend.py), so each
face's 2 processes must match it. What must match, and how:

- queues and pointers: identical on both ranks (exactly), pointers advance by the global
  batch of 8 (exactly), and the 8 columns of a step hold rank 0's keys then rank 1's (rank
  order), each equal to the single process' key of the same image (rtol=1e-5, atol=1e-6);
- shuffle-BN: the key encoder of a rank encodes images of the other rank;
- the loss: mean over ranks == single-process loss (rtol=1e-5, atol=1e-6); parameters after
  the 2 steps: equal on both ranks (exactly, checksums) and to the single process' (rtol=1e-4,
  atol=1e-5: SGD steps on gradients summed in another order; measured <= 2e-6);
- the batch check uses the global batch: a queue that 4 keys divide but 8 do not is refused
  (by each face's train.py, in the processes of the gpu-aug test: tests/dist_rank_probe.py).
"""
import importlib
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, installed_faces, skip_untested_faces

TOL = dict(rtol=1e-5, atol=1e-6)
PARAM_TOL = dict(rtol=1e-4, atol=1e-5)

CONFIG = '''
_base_ = {base!r}
custom_imports = dict(imports={imports!r}, allow_failed_imports=False)
model = dict(backbone=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)))
train_dataloader = dict(
    num_workers=0, persistent_workers=False, sampler=dict(shuffle=False),
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=[2, 2], transforms=[
            [dict(type='Resize', scale=(64, 64))],
            [dict(type='Resize', scale=(72, 72)),
             dict(type='JigsawPatches', grid=3, cell_size=24, patch_size=24, shuffle=False)]]),
        dict(type='PackSelfSupInputs', meta_keys=['img_path'])]))
custom_hooks = [
    dict(type='QueueBatchCheckHook'), dict(type='WeightsOnlyCheckpointHook'),
    dict(type='DistProbeHook')]
randomness = dict(seed=5, deterministic=True)
train_cfg = dict(max_epochs=2)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train_script(toolbox: str) -> str:
    return osp.join(importlib.import_module(toolbox).__path__[0], '.mim', 'tools', 'train.py')


def probe_config(tmp_path, toolbox: str, base: str) -> str:
    """CONFIG on ``base``: the face's own imports, and the probe hook."""
    config = tmp_path / f'two_procs_{toolbox}.py'
    imports = Config.fromfile(base).custom_imports.imports + ['dist_probe']
    config.write_text(CONFIG.format(base=base, imports=imports))
    return str(config)


def start(work_dir, toolbox, config, nproc, *options):
    """The toolbox's train.py: under torchrun for 2 processes, plainly for 1."""
    train_py = train_script(toolbox)
    launch = ([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc),
               '--master_port', str(free_port()), train_py] if nproc > 1
              else [sys.executable, train_py])
    cmd = launch + [config, '--work-dir', str(work_dir), '--cfg-options', *options]
    if nproc > 1:
        cmd.insert(cmd.index('--work-dir'), '--launcher=pytorch')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT, osp.join(ROOT, 'tests'), os.environ.get('PYTHONPATH', '')]))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def output(proc) -> str:
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-4000:]
    return out


def probe(work_dir, step, rank) -> dict:
    return torch.load(osp.join(work_dir, f'probe_iter{step}_rank{rank}.pth'), weights_only=True)


def image_ids(images: torch.Tensor, reference: torch.Tensor) -> list:
    """Row i of ``images`` is row ``ids[i]`` of ``reference`` (exactly the same pixels)."""
    return [next(j for j in range(len(reference)) if torch.equal(image, reference[j]))
            for image in images]


@pytest.mark.e2e
@pytest.mark.slow(60)
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_two_processes_match_one_process_at_the_doubled_batch(tmp_path, synthetic_root):
    faces = installed_faces()
    configs = {toolbox: probe_config(tmp_path, toolbox, base) for toolbox, base in faces.items()}
    data = f'train_dataloader.dataset.data_root={synthetic_root}'
    one = tmp_path / 'one'
    runs = {toolbox: start(tmp_path / toolbox, toolbox, config, 2, data,
                           'train_dataloader.batch_size=4')
            for toolbox, config in configs.items()}
    reference = start(one, 'mmselfsup', configs['mmselfsup'], 1, data,
                      'train_dataloader.batch_size=8')
    logs = {toolbox: output(run) for toolbox, run in runs.items()}
    output(reference)

    for toolbox, log in logs.items():
        two = tmp_path / toolbox
        assert 'nccl is replaced by gloo' in log, toolbox
        for step in (1, 2):
            ranks = [probe(two, step, r) for r in (0, 1)]
            single = probe(one, step, 0)
            assert [p['world_size'] for p in ranks] == [2, 2] and single['world_size'] == 1
            order = ranks[0]['img_paths'] + ranks[1]['img_paths']
            assert sorted(order) == sorted(single['img_paths']) and len(set(order)) == 8
            assert order != single['img_paths']  # the sampler interleaves: the test sees order
            columns = slice(8 * (step - 1), 8 * step)
            for view in ('g', 'l'):
                queue, ptr = f'queue_{view}', f'queue_{view}_ptr'
                assert torch.equal(ranks[0][queue], ranks[1][queue]), (toolbox, step, view)
                assert ranks[0][ptr].tolist() == ranks[1][ptr].tolist() == [8 * step] * 4
                assert single[ptr].tolist() == [8 * step] * 4
                # rank order: columns of rank 0's images, then rank 1's
                same_image = [single['img_paths'].index(path) for path in order]
                torch.testing.assert_close(
                    ranks[0][queue][:, :, columns], single[queue][:, :, columns][:, :, same_image],
                    **TOL, msg=lambda m: f'{toolbox} step {step} {queue}: {m}')
            loss = (ranks[0]['loss'] + ranks[1]['loss']) / 2
            torch.testing.assert_close(loss, single['loss'], **TOL,
                                       msg=lambda m: f'{toolbox} step {step} loss: {m}')
            assert ranks[0]['checksums'] == ranks[1]['checksums'], (toolbox, step)

            # shuffle-BN across ranks: identify each key-encoder input among the 8 query inputs
            everything = torch.cat([ranks[0]['query_global'], ranks[1]['query_global']])
            encoded = [image_ids(p['key_global'], everything) for p in ranks]
            assert sorted(encoded[0] + encoded[1]) == list(range(8)), (toolbox, step)
            assert any(i >= 4 for i in encoded[0]) and any(i < 4 for i in encoded[1])

        final = torch.load(two / 'epoch_2.pth', weights_only=True)['state_dict']
        expected = torch.load(one / 'epoch_2.pth', weights_only=True)['state_dict']
        assert set(final) == set(expected), toolbox
        for key in expected:
            if 'queue' not in key:  # the queues' columns are in another order, compared above
                torch.testing.assert_close(final[key], expected[key], **PARAM_TOL,
                                           msg=lambda m: f'{toolbox} {key}: {m}')
    skip_untested_faces(faces)


GPU_AUG_CONFIGS = {
    'mmselfsup': osp.join(ROOT, 'configs', 'detco', 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py'),
    'mmpretrain': osp.join(ROOT, 'configs', 'detco_mmpretrain',
                           'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny_mmpretrain.py')}


@pytest.mark.e2e
@pytest.mark.slow(30)
def test_gpu_aug_draws_differ_between_ranks_and_the_batch_check_is_global(tmp_path,
                                                                          synthetic_root):
    """The two processes of one gloo run (tests/dist_rank_probe.py), for the tiny gpuaug
    config of each face: augmenting the same batch with its preprocessor, the two ranks draw
    differently, whether the seed is given or None (rank 0's, broadcast), and each rank draws
    the same again with the same seed and differently with another; the face's train.py
    refuses a queue of 36 keys with 4 images per process, naming the global batch of 8."""
    faces = installed_faces()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
         '--master_port', str(free_port()), osp.join(ROOT, 'tests', 'dist_rank_probe.py'),
         str(tmp_path), '7', synthetic_root, *(GPU_AUG_CONFIGS[toolbox] for toolbox in faces)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    ranks = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in (0, 1)]
    for toolbox, face_0, face_1 in zip(faces, *ranks):
        assert face_0['toolbox'] == face_1['toolbox'] == toolbox
        for a, b in zip(face_0['batch'], face_1['batch']):
            assert torch.equal(a, b)  # the same input on both ranks
        (seed_0, again_0, other_0, none_0), (seed_1, again_1, other_1, none_1) = (
            face['runs'] for face in (face_0, face_1))
        for view in range(4):  # every view: global q, k and the local mosaics
            assert not torch.equal(seed_0[view], seed_1[view]), (toolbox, view)
            assert not torch.equal(none_0[view], none_1[view]), (toolbox, view)
            assert torch.equal(seed_0[view], again_0[view]) and torch.equal(seed_1[view],
                                                                            again_1[view])
            assert not torch.equal(seed_0[view], other_0[view]), (toolbox, view)
        # 4 keys per rank divide queue_len=36, the global batch of 8 does not
        for face in (face_0, face_1):
            assert 'queue_len=36' in face['refusal'], (toolbox, face['refusal'])
            assert 'global batch size 8' in face['refusal'], (toolbox, face['refusal'])
    skip_untested_faces(faces)
