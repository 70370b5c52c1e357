# Copyright (c) detco_mm contributors. All rights reserved.
"""The figure tools (Fig. 5 attention maps, Fig. 7 retrieval) on the shared tiny run."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import TINY_CONFIG, TINY_MMPRETRAIN, needs_mmpretrain, run_tool, tiny_knn_config
from detco_mm.evaluation import nearest_neighbours


def test_nearest_neighbours_skip_the_query_itself():
    bank = F.normalize(torch.tensor([[1., 0.], [0.9, 0.1], [0., 1.], [0.1, 0.9]]), dim=1)
    idx, sim = nearest_neighbours(bank, [0, 2], k=1)
    assert idx.tolist() == [[1], [3]]
    assert sim[0, 0] == pytest.approx(float(bank[0] @ bank[1]))


@pytest.mark.parametrize('config', [TINY_CONFIG, TINY_MMPRETRAIN], ids=['mmselfsup', 'mmpretrain'])
def test_attention_maps_two_checkpoints(config, tiny_pretrain_dir, synthetic_root, tmp_path,
                                       capsys):
    """With the config of either face (checkpoints of both faces have the same keys)."""
    if config == TINY_MMPRETRAIN:
        needs_mmpretrain()
    images = sorted(Path(synthetic_root).glob('train/*/*.jpg'))[:2]
    code, _, err = run_tool('analysis/attention_maps.py', config,
                            tiny_pretrain_dir / 'epoch_1.pth', '--compare', 'random',
                            '--images', *images, '--short-side', 64, '--out-dir', tmp_path,
                            capsys=capsys)
    assert code == 0, err
    maps = json.loads((tmp_path / 'attention.json').read_text())['maps']
    trained = maps[str(tiny_pretrain_dir / 'epoch_1.pth')]
    assert list(trained) == [str(p) for p in images] and list(maps) == [
        str(tiny_pretrain_dir / 'epoch_1.pth'), 'random']
    grid = torch.tensor(trained[str(images[0])])
    assert grid.shape == (2, 2)  # res5 of a 64 px side: stride 32
    assert grid.min() == 0 and grid.max() == 1  # min-max normalised
    assert maps['random'][str(images[0])] != trained[str(images[0])]
    assert (tmp_path / 'attention.png').stat().st_size > 0


def test_attention_maps_refuse_a_non_detco_file(tmp_path, synthetic_root, capsys):
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, bad)
    code, _, err = run_tool('analysis/attention_maps.py', TINY_CONFIG, bad, '--images', bad,
                            capsys=capsys)
    assert code == 1 and f'{bad}: not a DetCo checkpoint' in err


@pytest.mark.parametrize('base', [TINY_CONFIG, TINY_MMPRETRAIN], ids=['mmselfsup', 'mmpretrain'])
def test_knn_retrieval_grid(base, tiny_pretrain_dir, synthetic_root, tmp_path, capsys):
    if base == TINY_MMPRETRAIN:
        needs_mmpretrain()
    config = tiny_knn_config(tmp_path, synthetic_root, base=base)
    code, out, err = run_tool('analysis/knn_retrieval.py', config,
                              tiny_pretrain_dir / 'epoch_1.pth', '--compare', 'random',
                              '--num-queries', 2, '--k', 3, '--out-dir', tmp_path,
                              capsys=capsys)
    assert code == 0, err
    result = json.loads((tmp_path / 'retrieval.json').read_text())['results']
    assert len(result) == 2 and 'precision@3' in out
    for entry in result.values():
        assert len(entry['queries']) == 2
        for query in entry['queries']:
            sims = [n['sim'] for n in query['neighbours']]
            assert len(sims) == 3 and sims == sorted(sims, reverse=True)
            assert query['path'] not in [n['path'] for n in query['neighbours']]
        # the synthetic set has one class: every neighbour is a hit
        assert entry['precision_at_k'] == 100.0
    assert (tmp_path / 'retrieval.png').stat().st_size > 0
