"""The command line under hostile use: bad option values, broken data, failures inside a
run, Ctrl-C, a closed pipe, a pip install without the source repository.

The rules (tinygrad_edu/apps/common.py, ``run_main`` and ``ArgumentParser``): never a
traceback; every error is one line on stderr, ``<prog>: error: <message>``; a bad option
exits 2 before any data is loaded and before any folder is made; a failure during a run
exits 1 and leaves no folder it made; Ctrl-C exits 130 with "interrupted" and leaves no
half-written file.

Most tests run the command in-process (``cli.main``), which is fast; the few that must see
a real process (no traceback reaches the terminal, signals, pipes) run a subprocess.
"""

import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FLAGSHIP, OFFLINE_ENV

from tinygrad_edu.apps import cli, common


def snapshot(folder):
    """Every path below ``folder``, to see that a command created nothing."""
    return sorted(folder.rglob("*"))


def one_error_line(text, prog):
    """The single line of ``text``, checked to be ``<prog>: error: ...``."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def corrupt_mnist(tmp_path):
    """A folder holding the four MNIST file names, the first not an IDX file."""
    folder = tmp_path / "corrupt-mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not an IDX file"))
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / name).write_bytes(b"")
    return folder


def subprocess_env(tmp_path, **changes):
    """The environment of a test subprocess: one BLAS thread (fast on a busy machine),
    no network, an empty cache, no shared data set unless a test passes one."""
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_EDU_DATA"}
    env.update(OFFLINE_ENV, OPENBLAS_NUM_THREADS="1", TINYGRAD_EDU_CACHE=str(tmp_path / "cache"))
    env.update(changes)
    return env


# ----------------------------------------------------------------- bad option values: exit 2

A_FILE = "a-file.txt"  # made by the test in tmp_path
READ_ONLY = "read-only"  # a folder made read-only by the test

BAD_OPTIONS = [
    # (command and options, text of the one-line error)
    (["train", "--epochs", "0"], "--epochs must be at least 1, not 0"),
    (["train", "--epochs", "-3"], "--epochs must be at least 1"),
    (["train", "--epochs", "1.5"], "invalid int value: '1.5'"),
    (["train", "--hidden", "0"], "--hidden must be at least 1"),
    (["train", "--hidden", "100001"], "--hidden must be at most 100,000"),
    (["train", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["train", "--lr", "0"], "--lr must be positive and finite, not 0.0"),
    (["train", "--lr", "-0.1"], "--lr must be positive"),
    (["train", "--lr", "nan"], "--lr must be positive and finite, not nan"),
    (["train", "--lr", "inf"], "--lr must be positive and finite, not inf"),
    (["train", "--lr", "1e999"], "--lr must be positive and finite, not inf"),
    (["train", "--momentum", "-0.5"], "--momentum must be in [0, 1)"),
    (["train", "--momentum", "1"], "--momentum must be in [0, 1), not 1.0"),
    (["train", "--momentum", "nan"], "--momentum must be in [0, 1), not nan"),
    (["train", "--seed", "-1"], "--seed must be in 0 .. 4294967295"),
    (["train", "--seed", str(2**32)], "--seed must be in 0 .. 4294967295"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--data-dir", "no-such-folder"], "--data-dir no-such-folder: does not exist"),
    (["train", "--data-dir", A_FILE], "is a file, not a folder"),
    (["train", "--out", A_FILE], f"--out {A_FILE}: is a file, not a folder"),
    (["train", "--out", f"{A_FILE}/sub"], "cannot write there (Not a directory)"),
    (["train", "--out", f"{READ_ONLY}/sub"], "cannot write there (Permission denied)"),
    (["train", "--out", READ_ONLY], "cannot write there (Permission denied)"),
    (["infer", "--weights", "w.npz", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["infer", "--weights", "w.npz", "--data-dir", "nowhere"], "--data-dir nowhere: does not"),
    (["infer", "--weights", "w.npz", "--out", A_FILE], "is a file, not a folder"),
    (["infer", "--out", "pictures"], "--weights PATH is required"),
    (["gradcheck", "--hidden", "0"], "--hidden must be at least 1"),
    (["gradcheck", "--hidden", "1001"], "--hidden must be at most 1,000"),
    (["gradcheck", "--samples", "0"], "--samples must be at least 1"),
    (["gradcheck", "--samples", "101"], "--samples must be at most 100"),
    (["gradcheck", "--data-dir", "no-such-folder"], "does not exist"),
    (["graph", "--out", A_FILE], "is a file, not a folder"),
    (["graph", "--format", "gif"], "invalid choice: 'gif'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_a_bad_option_exits_2_in_one_line_before_any_work(
    args, message, tmp_path, monkeypatch, capsys
):
    if READ_ONLY in " ".join(args) and getattr(os, "geteuid", lambda: -1)() == 0:
        pytest.skip("root may write into a read-only folder")
    monkeypatch.chdir(tmp_path)
    (tmp_path / A_FILE).write_text("not a folder")
    (tmp_path / READ_ONLY).mkdir(mode=0o555)

    def no_loading(**kwargs):
        raise AssertionError("MNIST was loaded before the options were checked")

    monkeypatch.setattr(common, "load_mnist", no_loading)
    if "--out" not in args and args[0] in ("train", "infer"):
        args = [*args, "--out", "out"]  # must not be created either
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert captured.out == ""
    assert message in one_error_line(captured.err, f"tinygrad-edu {args[0]}")
    assert snapshot(tmp_path) == before  # no output folder, no probe file


@pytest.mark.parametrize("out", ["/proc", "/proc/tinygrad-edu-test/out"])
def test_an_unwritable_place_is_refused_even_for_root(out, tmp_path, monkeypatch, capsys):
    """/proc is read-only for every user, root included: an existing folder where no file
    can be made (caught by the probe file), and a folder that cannot be made there."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--out", out])
    assert exc.value.code == 2
    line = one_error_line(capsys.readouterr().err, "tinygrad-edu train")
    assert f"--out {out}: cannot write there" in line


# ------------------------------------------------------------------ failures in a run: exit 1


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["-m", "tinygrad_edu", "train", "--data-dir", "{data}", "--out", "{out}"], "not an IDX"),
        (["-m", "tinygrad_edu", "gradcheck", "--data-dir", "{data}"], "is corrupt"),
        # a folder without the MNIST files (load_mnist's DatasetError names it)
        (["-m", "tinygrad_edu", "train", "--data-dir", "{empty}", "--out", "{out}"], "{empty}"),
        ([str(FLAGSHIP), "--data-dir", "{data}", "--out", "{out}"], "Delete the file and load"),
        (["-m", "tinygrad_edu", "infer", "--weights", "{data}", "--out", "{out}"], "directory"),
        (["-m", "tinygrad_edu", "infer", "--weights", "{text}"], "is not an .npz file"),
    ],
)
def test_a_failure_during_a_run_exits_1_in_one_line(command, message, corrupt_mnist, tmp_path):
    text_file = tmp_path / "weights.npz"
    text_file.write_text("not weights")
    (tmp_path / "empty").mkdir()
    places = {"data": corrupt_mnist, "text": text_file, "out": tmp_path / "out" / "run"}
    places["empty"] = tmp_path / "empty"
    argv = [arg.format(**places) for arg in command]
    message = message.format(**places)
    done = subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env(tmp_path),
        timeout=120,
    )
    prog = f"tinygrad-edu {argv[2]}" if argv[0] == "-m" else FLAGSHIP.name
    assert done.returncode == 1, done.stderr
    assert message in one_error_line(done.stderr, prog)
    assert not (tmp_path / "out").exists()  # the folder made for --out is gone again


# ---------------------------------------------------------------------- the handler itself


class Boom(Exception):
    pass


@pytest.mark.parametrize(
    ("raised", "status", "expected"),
    [
        (ValueError("a bad file\n  - looked in x\n  - looked in y"), 1, "error: a bad file"),
        (FileNotFoundError(2, "No such file or directory", "w.npz"), 1, "No such file"),
        (RuntimeError("dot is missing; install Graphviz"), 1, "error: dot is missing;"),
        (MemoryError("Unable to allocate 8 GiB"), 1, "out of memory (Unable to allocate 8"),
        (TypeError("unsupported operand"), 1, "unexpected TypeError: unsupported operand"),
        (Boom(), 1, "unexpected Boom (a bug); rerun with TINYGRAD_EDU_TRACEBACK=1"),
        (KeyboardInterrupt(), 130, "prog: interrupted"),
    ],
)
def test_run_main_turns_every_exception_into_one_line(
    raised, status, expected, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv(common.TRACEBACK_ENV, raising=False)
    parser = common.ArgumentParser(prog="prog")
    parser.add_argument("--out", type=Path)

    def main():
        parser.check_out_folder(parser.parse_args(["--out", str(tmp_path / "new" / "out")]))
        raise raised

    assert common.run_main(main, "prog") == status
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "new").exists()  # the folders made for --out, still empty: removed


def test_the_traceback_escape_hatch_shows_where(monkeypatch, capsys):
    monkeypatch.setenv(common.TRACEBACK_ENV, "1")

    def main():
        raise TypeError("deep inside")

    assert common.run_main(main, "prog") == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise TypeError("deep inside")' in err
    assert err.strip().splitlines()[-1].startswith("prog: error: unexpected TypeError")


@pytest.mark.parametrize(("result", "status"), [(0, 0), (None, 0), ({"a": 1}, 0), (3, 3)])
def test_run_main_passes_the_status_on(result, status, tmp_path):
    parser = common.ArgumentParser(prog="prog")
    parser.add_argument("--out", type=Path)

    def main():
        parser.check_out_folder(parser.parse_args(["--out", str(tmp_path / "kept")]))
        return result

    assert common.run_main(main, "prog") == status
    assert (tmp_path / "kept").is_dir()  # a successful run keeps the folder it made


# ------------------------------------------------------------------------------ Ctrl-C: 130


@pytest.mark.parametrize(
    ("command", "prog"),
    [
        (["-m", "tinygrad_edu", "train"], "tinygrad-edu train"),
        ([str(FLAGSHIP)], FLAGSHIP.name),
    ],
)
def test_ctrl_c_exits_130_with_interrupted_and_leaves_no_file(command, prog, tmp_path):
    out = tmp_path / "out" / "run"
    process = subprocess.Popen(
        # the bundled sample (no data, no network), epochs enough to last minutes
        [sys.executable, *command, "--epochs", "10000", "--hidden", "16", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=subprocess_env(tmp_path),
        # Python turns SIGINT into KeyboardInterrupt unless it starts with SIGINT ignored,
        # as a background job of a non-interactive shell does: undo that for the child.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = process.stdout.readline()  # the first epoch's line: training is under way
        assert first.startswith("epoch "), first + process.stderr.read()
        assert out.is_dir()  # made up front, by the check that it is writable
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == f"{prog}: interrupted"
    assert "final test accuracy" not in stdout
    assert not (tmp_path / "out").exists()  # nothing written: the folders made are removed


# ------------------------------------------------------------------------------ --help


@pytest.mark.parametrize(
    ("command", "default"),
    [
        ("train", "(default: 12)"),  # --epochs
        ("infer", "(default: 100)"),  # --batch-size
        ("graph", "(default: graphs)"),  # --out
        ("gradcheck", "(default: 50)"),  # --hidden, the notes' size
    ],
)
def test_help_of_a_command_shows_its_defaults_and_the_escape_hatch(command, default, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # help wraps lines
    assert default in text
    assert "TINYGRAD_EDU_TRACEBACK=1" in text


@pytest.mark.parametrize(
    ("command", "description"),
    [
        ("bench", "not of the installed package"),
        ("examples", "List the curriculum's example scripts"),
        ("graph", "into the file OUT/two_layer_loss.FORMAT (its full path is printed)"),
    ],
)
def test_help_of_a_command_describes_it(command, description, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    assert description in " ".join(capsys.readouterr().out.split())


# ------------------------------------------------------------------ installs and pipes


def test_bench_without_the_source_repository_says_so_and_exits_2(tmp_path, monkeypatch, capsys):
    """As from a pip install: no benchmarks/ in the current folder nor beside the package."""
    monkeypatch.setattr(cli, "PACKAGE", tmp_path / "site-packages" / "tinygrad_edu")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "overhead"]) == 2
    line = one_error_line(capsys.readouterr().err, "tinygrad-edu bench")
    assert "part of the source repository, not of the installed package" in line


def test_examples_are_found_inside_an_installed_package(tmp_path, monkeypatch, capsys):
    """The wheel carries the scripts as tinygrad_edu/examples; they are listed from there."""
    installed = tmp_path / "site-packages" / "tinygrad_edu"
    (installed / "examples").mkdir(parents=True)
    (installed / "examples" / "perceptron_gates.py").write_text('"""AND, OR, NAND."""\n')
    (installed / "examples" / "_common.py").write_text('"""helpers"""\n')
    monkeypatch.setattr(cli, "PACKAGE", installed)
    assert cli.main(["examples"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["perceptron_gates.py", "AND,", "OR,", "NAND."]
    assert "_common" not in out and str(installed / "examples") in out


def test_a_closed_stdout_ends_the_command_quietly(tmp_path):
    """``tinygrad-edu examples | head -1``: the reader is gone; no BrokenPipeError noise."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the command writes: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tinygrad_edu", "examples"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == ""
