# Copyright (c) detco_mm contributors. All rights reserved.
"""The manual (README.md, docs/**/*.md, configs/**/README.md) works from any clone.

Every command of the manual runs from the root of a clone, so what it names must be there and
nothing may point at one machine:

- **No machine paths** (in the manual, and in the usage examples of the code: the package, the
  tools, the configs, the Makefile and CI). Data and work folders are arguments (``PATH``,
  ``--data DIR``) or relative to the clone (``data/...``, ``work_dirs/...``). The rule: no
  absolute path under a folder where machines keep users' files or data (``/work/``,
  ``/home/``, ``/root/``, ``/tmp/``, ``/mnt/``, ``/data/``, ``/scratch/``, ``/Users/``),
  ``/tmp/`` included, since a command that writes there works but leaves its output where the
  next reader of the page will not look; and no ``../shared`` (a folder beside one checkout).
  Paths of the operating system itself (``/dev/zero`` as an example of a device) name no
  machine and are allowed; so are ``~/.cache/...`` and ``$TORCH_HOME/...``, which every machine
  resolves for itself.
- **Named files exist.** A path in a code block or inline code that starts with a folder of the
  repository (``tools/``, ``configs/``, ``docs/``, ``tests/``, ``detco_mm/``, ``detco_ckpt/``,
  ``requirements/``) is relative to the root of the clone and must exist. ``{a,b}`` is expanded,
  ``*`` and ``...`` are globs that must match a file, and a path with an upper-case placeholder
  (``configs/detco/NAME.py``) is a template, not checked. ``tests/FILE.py::test_name`` (and a
  following ``::test_other``) must name a test function of that file.
- **Links resolve.** A relative markdown link names a file that exists, relative to the page;
  its ``#anchor``, if any, is a heading of the target page (GitHub's anchor rule).
"""
import glob
import itertools
import os.path as osp
import re

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

MACHINE_PATH = re.compile(r'(?<![\w.~$/-])/(?:work|home|root|tmp|mnt|data|scratch|Users)/|'
                          r'\.\./shared\b')
REPO_PATH = re.compile(r'(?<![\w./~$-])((?:tools|configs|docs|tests|detco_mm|detco_ckpt|'
                       r'requirements)/(?:\{[^{}\s]*\}|[^\s`\'"()\[\]<>|,;={}])*)')
PLACEHOLDER = re.compile(r'(?<![a-z])[A-Z][A-Z0-9_]{2,}(?![a-z])')
TEST_REF = re.compile(r'(?:(?:tests/)?(test_\w+\.py))?::(test_\w+)')
TEST_FILE = re.compile(r'(?<![\w/])(?:tests/)?(test_\w+\.py)')
FENCE = re.compile(r'^```[^\n]*\n(.*?)^```', re.MULTILINE | re.DOTALL)
INLINE = re.compile(r'`([^`\n]+)`')
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
HEADING = re.compile(r'^#{1,6}\s+(.+?)\s*#*\s*$', re.MULTILINE)


def read(path):
    with open(path, encoding='utf-8') as file:
        return file.read()


def manual_pages(root=ROOT):
    """README.md, docs/**/*.md, configs/**/README.md, as paths relative to ``root``."""
    pages = ['README.md']
    for pattern in ('docs/**/*.md', 'configs/**/README.md'):
        pages += sorted(osp.relpath(p, root)
                        for p in glob.glob(osp.join(root, pattern), recursive=True))
    return pages


def code_text(text):
    """The fenced code blocks and inline code spans of a markdown page."""
    blocks = FENCE.findall(text)
    prose = FENCE.sub('', text)
    return blocks + INLINE.findall(prose)


def expand_braces(path):
    """``a{b,c}d`` -> ``[abd, acd]`` (each brace group once, left to right)."""
    parts = re.split(r'\{([^{}]*)\}', path)
    choices = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading).replace('`', '').lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(text):
    """Every anchor of a page, with GitHub's ``-1``, ``-2`` for repeated headings."""
    seen, result = {}, set()
    for heading in HEADING.findall(FENCE.sub('', text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f'{base}-{count}')
    return result


def machine_paths(text):
    """The lines of ``text`` that name an absolute path of one machine or ``../shared``."""
    return [line.strip() for line in text.splitlines() if MACHINE_PATH.search(line)]


def missing_repo_files(text, root=ROOT):
    """Repository paths named in the code of ``text`` that match no file or folder."""
    missing, last_file = [], None
    for code in code_text(text):
        for match in REPO_PATH.finditer(code):
            path = match.group(1).split('#')[0].split('::')[0].rstrip('.:')
            if PLACEHOLDER.search(path):
                continue
            for candidate in expand_braces(path):
                pattern = candidate.replace('...', '*')
                if not glob.glob(osp.join(root, pattern)):
                    missing.append(candidate)
        for match in TEST_REF.finditer(code):  # `::test_b` after `test_x.py::test_a`
            last_file = match.group(1) or last_file
            test_py = osp.join(root, 'tests', last_file or '')
            if last_file is None or not osp.isfile(test_py):
                missing.append(f'{last_file}::{match.group(2)}')
            elif not re.search(rf'^\s*def {match.group(2)}\(', read(test_py), re.MULTILINE):
                missing.append(f'tests/{last_file}::{match.group(2)}')
        for match in TEST_FILE.finditer(code):
            if not glob.glob(osp.join(root, 'tests', match.group(1))):
                missing.append(f'tests/{match.group(1)}')
    return missing


def broken_links(page, text, root=ROOT):
    """Relative links of ``page`` (relative to ``root``) to missing files or anchors."""
    broken = []
    for target in LINK.findall(FENCE.sub('', text)):
        if re.match(r'[a-z][a-z0-9+.-]*:', target):  # https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        if not path:
            if anchor not in anchors(text):
                broken.append(target)
            continue
        file = osp.normpath(osp.join(root, osp.dirname(page), path))
        if not osp.exists(file) or (anchor and file.endswith('.md')
                                    and anchor not in anchors(read(file))):
            broken.append(target)
    return broken


PAGES = manual_pages()


def test_the_manual_has_its_pages():
    assert {'README.md', 'docs/get_started.md', 'docs/pretraining.md', 'docs/transfer.md',
            'docs/evaluation.md', 'docs/speed.md', 'docs/reliability.md',
            'docs/evidence.md'} <= set(PAGES)


@pytest.mark.parametrize('page', PAGES)
def test_no_path_of_one_machine(page):
    assert machine_paths(read(osp.join(ROOT, page))) == []


def code_files():
    """The package's, the tools' and the configs' files, whose docstrings and comments hold
    usage examples too, plus the Makefile and CI script."""
    files = ['Makefile', '.ci/run']
    for folder in ('detco_mm', 'detco_ckpt', 'tools', 'configs'):
        for ext in ('py', 'sh', 'yml'):
            files += [osp.relpath(f, ROOT) for f in glob.glob(
                osp.join(ROOT, folder, '**', f'*.{ext}'), recursive=True)]
    return sorted(f for f in files if '.mim' not in f)


def test_no_path_of_one_machine_in_the_code():
    found = {f: lines for f in code_files() if (lines := machine_paths(read(osp.join(ROOT, f))))}
    assert found == {}


@pytest.mark.parametrize('page', PAGES)
def test_named_repository_files_exist(page):
    assert missing_repo_files(read(osp.join(ROOT, page))) == []


@pytest.mark.parametrize('page', PAGES)
def test_relative_links_resolve(page):
    assert broken_links(page, read(osp.join(ROOT, page))) == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    """Each check on a page written to fail it, in a tree of one file."""
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'train.py').write_text('')
    (tmp_path / 'tests').mkdir()
    (tmp_path / 'tests' / 'test_a.py').write_text('def test_one():\n    pass\n')
    (tmp_path / 'page.md').write_text('# A page\n')
    page = ('# Title\n\n## Two words\n\n'
            '```bash\npython tools/train.py --data /work/shared/data/x\n'
            'python tools/nowhere.py ../shared/data\n```\n'
            '`tools/{train,gone}.py` `configs/detco/NAME.py` `tools/tr*.py` '
            '`tests/test_a.py::test_one`, `::test_two` `test_b.py`\n'
            '[ok](page.md#a-page) [self](#two-words) [gone](missing.md) '
            '[bad anchor](page.md#b-page) [web](https://example.com/home/x)\n'
            'a device such as `/dev/zero` and `~/.cache/x`\n')
    assert machine_paths(page) == ['python tools/train.py --data /work/shared/data/x',
                                   'python tools/nowhere.py ../shared/data']
    assert missing_repo_files(page, root=str(tmp_path)) == [
        'tools/nowhere.py', 'tools/gone.py', 'tests/test_a.py::test_two', 'tests/test_b.py']
    assert broken_links('page.md', page, root=str(tmp_path)) == ['missing.md', 'page.md#b-page']
    assert slug('Two faces: `mmselfsup` or mmpretrain') == 'two-faces-mmselfsup-or-mmpretrain'
