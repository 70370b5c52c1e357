# Copyright (c) detco_mm contributors. All rights reserved.
"""The layers of detco_mm (docs/design.md), read from the imports of every module (ast):
only the adapters in ``detco_mm/backends/`` import a toolbox, no layer imports a higher one,
and no function imports a detco_mm module."""
import ast
import os.path as osp
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from conftest import ROOT

# Lowest first. A module may import modules of its own layer and of the layers before it.
LAYERS = ('contracts', 'datasets', 'models', 'evaluation', 'engine', 'visualization',
          'backends')
# The package root (detco_mm/__init__.py, stack_repairs, excepthook) is above every layer.
ROOT_RANK = len(LAYERS)
TOOLBOXES = {'mmselfsup', 'mmpretrain', 'mmcls'}
# Modules that may import a toolbox: the adapters, and the repairs of the pinned stack.
TOOLBOX_MODULES = ('detco_mm.backends', 'detco_mm.stack_repairs')
PACKAGE = Path(ROOT) / 'detco_mm'


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def layer_modules(package: Path) -> Dict[str, Tuple[Path, bool]]:
    """Module name -> (file, is a package) of the layers and the package root's own files."""
    modules = {}
    for path in sorted(package.rglob('*.py')):
        rel = path.relative_to(package).parts
        if len(rel) > 1 and rel[0] not in LAYERS:
            continue  # not a layer (e.g. benchmarks/, whose tools are moving to tools/)
        modules[module_name(path, package)] = (path, path.name == '__init__.py')
    return modules


def imports(path: Path, name: str, is_package: bool) -> Iterator[Tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of a module."""
    package = name if is_package else name.rpartition('.')[0]
    tree = ast.parse(path.read_text(), str(path))
    local = {id(node) for func in ast.walk(tree)
             if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
             for node in ast.walk(func)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.split('.')
                parent = parent[:len(parent) - node.level + 1]
                base = '.'.join(parent + ([node.module] if node.module else []))
            # `from .. import models` imports detco_mm.models; `from .x import f`, detco_mm.x
            targets = [f'{base}.{alias.name}' if node.module is None else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            yield target, node.lineno, id(node) in local


def rank(module: str) -> int:
    parts = module.split('.')
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return ROOT_RANK


def violations(package: Path) -> List[str]:
    """Every import that breaks the rules of this file, as 'file:line: what'."""
    found = []
    for name, (path, is_package) in layer_modules(package).items():
        where = osp.relpath(path, package.parent)
        for target, line, in_function in imports(path, name, is_package):
            top = target.split('.')[0]
            if top in TOOLBOXES and not name.startswith(TOOLBOX_MODULES):
                found.append(f'{where}:{line}: imports {target}; only the adapters in '
                             f'detco_mm/backends/ (and stack_repairs) import a toolbox')
            if top != 'detco_mm':
                continue
            if in_function:
                found.append(f'{where}:{line}: imports {target} inside a function')
            if rank(target) > rank(name):
                found.append(f'{where}:{line}: {name} (layer {rank(name)}) imports {target} '
                             f'(layer {rank(target)}), a higher layer')
    return found


def test_the_layers_hold():
    modules = layer_modules(PACKAGE)
    # every layer is there and read (a renamed folder would otherwise pass unchecked)
    assert {m.split('.')[1] for m in modules if m.count('.')} >= set(LAYERS)
    assert violations(PACKAGE) == []


def test_contracts_import_nothing_of_detco_mm_but_themselves():
    for name, (path, is_package) in layer_modules(PACKAGE).items():
        if name.startswith('detco_mm.contracts'):
            for target, line, _ in imports(path, name, is_package):
                assert not target.startswith('detco_mm.') or target.startswith(
                    'detco_mm.contracts'), f'{path}:{line} imports {target}'


@pytest.mark.parametrize('module, source, expected', [
    ('models/heads/x.py', 'from mmselfsup.registry import MODELS\n',
     'imports mmselfsup.registry; only the adapters'),
    ('datasets/x.py', 'import mmcls.datasets\n', 'imports mmcls.datasets; only the adapters'),
    ('contracts/x.py', 'from ..models import DetCoMixin\n',
     'detco_mm.contracts.x (layer 0) imports detco_mm.models (layer 2), a higher layer'),
    ('models/x.py', 'from ..engine.utils import unwrap_model\n', 'a higher layer'),
    ('evaluation/x.py', 'from .. import backends\n',
     'imports detco_mm.backends (layer 6), a higher layer'),
    ('engine/x.py', 'def f():\n    from ..evaluation import knn\n',
     'imports detco_mm.evaluation inside a function'),
])
def test_a_wrong_import_is_found(tmp_path, module, source, expected):
    """The checker on a package of its own: each wrong import is reported, by file and line."""
    package = tmp_path / 'detco_mm'
    for layer in LAYERS:
        (package / layer).mkdir(parents=True)
        (package / layer / '__init__.py').write_text('')
    (package / '__init__.py').write_text('from . import backends\n')
    (package / 'models' / 'heads').mkdir()
    (package / 'models' / 'heads' / '__init__.py').write_text('from ...contracts import x\n')
    assert violations(package) == []
    (package / module).write_text(source)
    found = violations(package)
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith(f'detco_mm/{module}:')
