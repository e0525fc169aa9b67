"""The READMEs' code, run as a reader would run it, and the Korean README kept in step.

Each ```python block of README.md, and of README.ko.md, runs in order in one namespace per
README, as if pasted into one Python session, inside a fresh working folder (so the files
the blocks write land there) and with the real MNIST files (``mnist_dir``). ```bash and
```text blocks are not run: the quick-start commands are what CI itself runs, and the text
block lists error messages.

Printed results are checked cheaply: on a line ``print(...)  # TEXT`` the comment is the
output, so TEXT must appear in what the block printed, the block's print comments in order
(a substring match: an explanation does not belong in such a comment). Tracebacks point
at the README's own lines.
"""

import contextlib
import io
import re
import shutil
import tokenize
from importlib.util import find_spec
from pathlib import Path

import pytest
from helpers import skip_or_fail_in_ci

ROOT = Path(__file__).resolve().parent.parent
READMES = ["README.md", "README.ko.md"]
RUN = {"python"}  # the languages of the blocks that run; the others are only compared
# A block calling one of these needs an optional extra's module (README: "The way out").
NEEDS_EXTRA = {"to_onnx(": "onnx", "to_torch(": "torch"}
LANGUAGES = RUN | {"bash", "text"}

# A fenced block: ```LANG on its own line, the code, ``` on its own line.
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.S | re.M)
# A print whose comment is what it prints: print(x.grad)  # Tensor([12.], dtype=float64)
PRINT_COMMENT = re.compile(r"^[ \t]*print\(.*\)[ \t]+#[ \t]*(.+?)[ \t]*$", re.M)
# The pictures of a README: ![alt](path) and <img src="path" ...>.
PICTURE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def code_blocks(text):
    """The fenced blocks of a Markdown ``text``, in order: (language, code, line), where
    line is the number of the code's first line in the file."""
    return [(m[1], m[2], text.count("\n", 0, m.start(2)) + 1) for m in FENCE.finditer(text)]


def read(name):
    return (ROOT / name).read_text(encoding="utf-8")


def without_comments(code):
    """The lines of Python ``code`` with its comments (and the spaces before them) cut off:
    what must be identical in the English and the Korean README."""
    lines = code.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
    return lines


def assert_printed(expected, printed, where):
    """Each text of ``expected`` appears in ``printed``, in that order."""
    position = 0
    for text in expected:
        found = printed.find(text, position)
        assert found >= 0, f"{where}: expected {text!r} in its output; it printed:\n{printed}"
        position = found + len(text)


@pytest.mark.parametrize("readme", READMES)
@pytest.mark.filterwarnings("error::tinygrad_edu.datasets.SampleDataWarning")  # real MNIST only
# The anomaly block's NaN gradient, of which numpy warns (as the README says):
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_readme_code_runs_as_shown(readme, mnist_dir, tmp_path, monkeypatch):
    blocks = code_blocks(read(readme))
    unknown = [(lang, line) for lang, _, line in blocks if lang not in LANGUAGES]
    assert not unknown, f"{readme}: blocks of unknown language (language, line): {unknown}"
    runs = [(code, line) for lang, code, line in blocks if lang in RUN]
    assert runs, f"{readme} has no python blocks"
    if any("viz.render(" in code for code, _ in runs) and shutil.which("dot") is None:
        skip_or_fail_in_ci(
            f"Graphviz's dot program was not found; a block of {readme} renders with it "
            f"(apt-get install graphviz, or your system's package of it)",
            "CI installs graphviz",
        )
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(mnist_dir.parent))
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(tmp_path / "cache"))  # not the user's cache
    monkeypatch.chdir(tmp_path)

    session = {"__name__": "__main__"}
    left_out = []  # blocks that need an extra that is not installed: (line, modules)
    for code, line in runs:
        missing = [m for call, m in NEEDS_EXTRA.items() if call in code and not find_spec(m)]
        if missing:
            left_out.append((line, missing))
            continue
        # Padded to its place in the file, so that a traceback shows the README's line.
        compiled = compile("\n" * (line - 1) + code, str(ROOT / readme), "exec")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compiled, session)
        expected = PRINT_COMMENT.findall(code)
        assert_printed(expected, printed.getvalue(), f"{readme}, the block at line {line}")
    if left_out:
        skip_or_fail_in_ci(
            f"{readme}: the other blocks ran; these need extras that are not installed "
            f"(line, modules): {left_out}; pip install '.[onnx,torch]'",
            "CI installs every extra",
        )


def sections(text):
    """The ``## `` sections of a README (the part before the first one included), each as
    what translation must keep: its code (Python without its comments, but with the output
    that its print comments show), its pictures and its number of table rows."""
    parts = re.split(r"^## .*$", text, flags=re.M)
    result = []
    for part in parts:
        code = [
            (lang, without_comments(c) if lang == "python" else c, PRINT_COMMENT.findall(c))
            for lang, c, _ in code_blocks(part)
        ]
        prose = FENCE.sub("", part)
        pictures = [a or b for a, b in PICTURE.findall(prose)]
        table_rows = sum(line.startswith("|") for line in prose.splitlines())
        result.append({"code": code, "pictures": pictures, "table rows": table_rows})
    return result


def test_korean_readme_has_the_same_sections_code_tables_and_pictures():
    english, korean = read("README.md"), read("README.ko.md")
    headings = re.findall(r"^## (.*)$", english, flags=re.M)
    en, ko = sections(english), sections(korean)
    assert len(ko) == len(en), f"README.ko.md has {len(ko) - 1} sections, README.md {len(en) - 1}"
    for heading, en_part, ko_part in zip(["(top)", *headings], en, ko):
        for key in en_part:
            assert ko_part[key] == en_part[key], (
                f"section {heading!r}: its {key} differ from README.md's"
            )
    missing = [path for part in en for path in part["pictures"] if not (ROOT / path).is_file()]
    assert not missing, f"README.md shows pictures that do not exist: {missing}"
    # The summary the issue asks for: as many code blocks, with identical code.
    en_code = [c for part in en for c in part["code"]]
    ko_code = [c for part in ko for c in part["code"]]
    assert ko_code == en_code, f"code blocks: {len(en_code)} in README.md, {len(ko_code)} in ko"
