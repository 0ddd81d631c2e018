"""Bad parameters and folders get one clear line before anything runs; make report never
writes into a user's folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit_lib import cli
from audit_lib.run import RunError, check_jobs, check_period_syntax, run

from .conftest import DEFAULT_DATA, ROOT

AUDIT = [sys.executable, "-m", "audit_lib.cli"]


#: the runner's parameters, as a notebook of the project declares them
RUN_PARAMS = 'period = None\ndata_dir = "."\noutput_dir = "."'


def tiny_notebook(
    path: Path, body: str, params: str = RUN_PARAMS, language: str | None = "python"
) -> None:
    """Write a notebook at ``path``: a parameters cell, then ``body``; its kernelspec
    names ``language`` (None: no language, which papermill cannot read)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)] if body else [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    if language:
        nb.metadata["kernelspec"]["language"] = language
    nbformat.write(nb, path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "-1"], "--jobs must be a whole number of at least 1"),
        (["--jobs", "0"], "--jobs must be a whole number of at least 1"),
        (["-p", "suppress_max=abc"], "parameter suppress_max must be a whole number"),
        (["-p", "suppress_max=-2"], "parameter suppress_max must be a whole number of 0 or more"),
        (["-p", "targets=[1]"], "parameter targets must be a JSON object"),
        (["--period", "0000-01"], "outside the years this tool can handle"),
        (["--period", "9999-12"], "outside the years this tool can handle"),
        (["--period", "2026-13"], "period must be YYYY-MM"),
        (["--period", "Oct 2026"], "period must be YYYY-MM"),
        (["--data", "/no/such/folder"], "data folder not found"),
    ],
)
def test_bad_run_request_is_one_line_and_nothing_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "reports"
    rc = cli.main(["run", "--data", str(DEFAULT_DATA), "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()  # refused before any notebook ran


def test_checks_accept_what_is_valid():
    check_jobs(None), check_jobs(1), check_period_syntax(None), check_period_syntax("2026-10")
    with pytest.raises(RunError):
        check_jobs(True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--children", "0"], "--children must be at least 10"),
        (["--children", "-5"], "--children must be at least 10"),
        (["--start", "soon"], "--start must be a date"),
        (["--end", "2020-01-01"], "--end must be after --start"),
    ],
)
def test_bad_synth_request_is_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "borough"
    rc = cli.main(["synth", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == f"audit synth: {err.split(': ', 1)[1]}" and message in err
    assert not out.exists()


def test_unreadable_data_folder_is_one_line(tmp_path, capsys, monkeypatch):
    """A PermissionError reading the data (as a non-root user gets on a folder they may
    not read) is one line naming the file. Tests run as root, so it is raised here."""
    import audit_lib.load as load

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "children.csv"))

    monkeypatch.setattr(load, "load_tables", denied)
    rc = cli.main(["validate", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert (
        rc == 2
        and err == f"audit validate: cannot read {tmp_path / 'children.csv'}: permission denied"
    )


def test_validate_into_a_closed_pipe_is_not_a_traceback():
    """`audit validate DIR | head -1`: the reader leaves early; no BrokenPipeError."""
    proc = subprocess.Popen(
        [*AUDIT, "validate", str(DEFAULT_DATA)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()  # nobody reads: the first write fails with EPIPE
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_validate_brief_names_the_unusable_table(tmp_path, capsys):
    (tmp_path / "children.csv").write_text("child_id,sex\n1,M\n")
    rc = cli.main(["validate", "--brief", str(tmp_path)])
    out = capsys.readouterr().out.strip()
    assert rc == 1 and out.startswith("unusable: children: table unusable: required column")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_report_never_writes_into_a_user_folder(tmp_path):
    """A folder without children.csv is not filled with a synthetic borough; make says what
    is missing and fails. Unusable data show validate's reason, not only make's error."""
    user = tmp_path / "my returns"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    res = subprocess.run(
        ["make", "-s", "report", f"DATA={user}"], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode != 0 and "has no children.csv" in res.stderr
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    (user / "children.csv").write_text("child_id,sex\n1,M\n")
    res = subprocess.run(
        ["make", "-s", "report", f"DATA={user}"], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode != 0 and "unusable: children" in res.stderr
    assert sorted(p.name for p in user.iterdir()) == ["children.csv", "notes.txt"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_goes_on_where_the_bytecode_cannot_be_written(tmp_path):
    """Compiling audit_lib ahead (``make bytecode``, which report, lint, test and bench
    depend on) only saves time: where its bytecode cannot be written (audit_lib/ owned by
    someone else; here a pycache folder that cannot be made) make says so in one line and
    goes on, where it stopped with an error for every module."""
    blocked = tmp_path / "a file"
    blocked.write_text("")
    res = subprocess.run(
        ["make", "-s", "bytecode"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPYCACHEPREFIX": str(blocked / "pycache")},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("note: audit_lib not compiled ahead"), res.stderr


def test_run_refuses_a_folder_it_cannot_read(tmp_path, monkeypatch):
    import os

    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(tmp_path) else real(p, m))
    with pytest.raises(RunError, match="permission denied"):
        run(data=tmp_path, out=tmp_path / "out")


def test_run_console_is_quiet(tmp_path):
    """One line per notebook and the index path once; no kernel warnings (TCP without
    encryption) and no 'KeyboardInterrupt caught in kernel' on the user's console."""
    from .test_any_size import sample_borough

    sample_borough(tmp_path / "data", 10, seed=3)
    books = tmp_path / "notebooks"
    books.mkdir()
    for name in ("one", "two"):
        tiny_notebook(books / f"{name}.ipynb", "import sys\nshown = str(period)")
    res = subprocess.run(
        [*AUDIT, "run", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
        + ["--notebooks", str(books), "--jobs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    console = res.stdout + res.stderr
    assert "IPKernelApp" not in console and "KeyboardInterrupt" not in console, console
    assert console.count("index.html") == 1, console
    assert res.stderr.count(": ok in ") == 2, res.stderr


def test_the_command_passes_on_main_exit_code_and_freezes_what_is_left_before_it_ends(
    tmp_path,
):
    """``audit`` is ``cli.console``: the exit code is main's, and the objects left are
    frozen so the interpreter's last collections skip them (a tenth of a small import).
    Ctrl-C is then the default action: a second Ctrl-C while an interrupted run ended
    printed a traceback from multiprocessing's exit handler (joining its workers)."""
    script = (
        "import gc, signal, sys\n"
        "from audit_lib import cli\n"
        "code = cli.console(sys.argv[1:])\n"
        "print('frozen', gc.get_freeze_count() > 1000, file=sys.stderr)\n"
        "print('ctrl-c ends', signal.getsignal(signal.SIGINT) is signal.SIG_DFL, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    ok = subprocess.run(
        [sys.executable, "-c", script, "validate", "--brief", str(DEFAULT_DATA)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "frozen True" in ok.stderr, ok.stderr
    assert "ctrl-c ends True" in ok.stderr, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-c", script, "validate", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "not found" in bad.stderr, bad.stderr
    assert (ROOT / "pyproject.toml").read_text().count('audit = "audit_lib.cli:console"') == 1


def _tagged_processes(tag: str) -> list[int]:
    """Pids of live processes whose environment holds ``AUDIT_TEST_TAG=tag``."""
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"AUDIT_TEST_TAG={tag}".encode() in env.read_bytes().split(b"\0"):
                found.append(int(env.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    ("signum", "to_group", "line"),
    [
        ("SIGINT", True, "audit run: interrupted"),
        ("SIGTERM", False, "audit run: stopped (SIGTERM)"),
        ("SIGHUP", True, "audit run: stopped (SIGHUP)"),
    ],
)
def test_ctrl_c_stops_the_run_at_once_with_one_line_and_nothing_left_running(
    tmp_path, signum, to_group, line
):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while a notebook
    runs: the command ends within seconds with exit code 130 and one line, no traceback;
    the queued notebook never starts; no worker, kernel or kernel socket folder is left.
    Before, every worker printed a traceback, queued notebooks still ran, and some runs
    hung or left kernels behind. SIGTERM to the command alone (a scheduler stopping the
    job) and SIGHUP to the group (the terminal closed) do the same, exit code 128 + the
    signal's number; before, the command died at once and its workers and their kernels
    ran on for ever (SIGTERM), or left their kernels' socket folders (SIGHUP)."""
    import os
    import signal
    import tempfile
    import time
    import uuid

    from .test_any_size import sample_borough

    sample_borough(tmp_path / "data", 10, seed=3)
    books = tmp_path / "notebooks"
    books.mkdir()
    for name in ("one", "two"):
        marker = tmp_path / f"{name}.started"
        body = f"import time\nopen({str(marker)!r}, 'w')\ntime.sleep(60)"
        tiny_notebook(books / f"{name}.ipynb", body)
    tag = uuid.uuid4().hex
    # the run's own temporary folder, short (a kernel's socket path must fit in 107 bytes)
    temp = Path(tempfile.mkdtemp(dir="/tmp"))
    env = {**os.environ, "AUDIT_TEST_TAG": tag, "TMPDIR": str(temp)}

    def as_a_terminal_job():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        [*AUDIT, "run", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
        + ["--notebooks", str(books), "--jobs", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_a_terminal_job,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("*.started")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert list(tmp_path.glob("*.started"))
        sig = getattr(signal, signum)
        os.killpg(proc.pid, sig) if to_group else os.kill(proc.pid, sig)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig and took < 10, (proc.returncode, took, err)
    assert "Traceback" not in out + err and err.strip().endswith(line), err
    assert len(list(tmp_path.glob("*.started"))) == 1  # the queued one: cancelled, never run
    time.sleep(1.5)  # a kernel whose worker died goes within a second (ipykernel's poller)
    left = _tagged_processes(tag)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
    left_files = sorted(str(p.relative_to(temp)) for p in temp.rglob("*"))  # sockets,
    shutil.rmtree(temp, ignore_errors=True)  # connection files
    assert left_files == [], err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "cannot read the notebook bad.ipynb: Expecting property name"),
        ("[1, 2]", "cannot read the notebook bad.ipynb"),
        (None, "cannot read the parameters of the notebook bad.ipynb: No language found"),
    ],
)
def test_a_notebook_that_cannot_be_read_is_one_line_not_a_traceback(tmp_path, text, message):
    """A notebook folder of the user's (``--notebooks``) with a damaged notebook, or one
    whose metadata names no kernel language (papermill needs one), stops the run with
    one line naming it; it was a traceback."""
    books = tmp_path / "notebooks"
    books.mkdir()
    if text is None:
        tiny_notebook(books / "bad.ipynb", "", params="period = None", language=None)
    else:
        (books / "bad.ipynb").write_text(text)
    with pytest.raises(RunError) as err:
        run(data=DEFAULT_DATA, out=tmp_path / "out", notebooks=books)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_kernel_socket_folder_fits_a_socket_path_whatever_the_temporary_folder(
    tmp_path, monkeypatch
):
    """A Unix socket's path holds at most 107 bytes: under a long $TMPDIR no kernel could
    start and the run waited two minutes. The socket folder then goes to /tmp; the
    connection file goes with it, so both are removed together."""
    import tempfile

    from audit_lib.kernel import IPC_PATH_MAX, WarmKernelManager

    long = tmp_path / ("t" * max(1, 100 - len(str(tmp_path))))
    long.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    km = WarmKernelManager(kernel_name="python3")
    try:
        assert len(km.ip + "-65535") <= IPC_PATH_MAX and km.ip.startswith("/tmp/audit-kernel-")
        assert Path(km.connection_file).parent == Path(km.ip).parent
    finally:
        km.cleanup_ipc_files()
    assert not Path(km.ip).parent.exists()
    short = Path(tempfile.mkdtemp(dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(short))  # short enough: stays there
    km = WarmKernelManager(kernel_name="python3")
    try:
        assert Path(km.ip).parent.parent == short
    finally:
        km.cleanup_ipc_files()
        short.rmdir()


def test_a_relative_notebooks_folder_works_in_the_warm_kernels(tmp_path):
    """``--notebooks nbs`` relative to where the command runs: the warm kernels (which
    run elsewhere) reset into it; it printed a kernel's FileNotFoundError traceback on
    the console and fell back to fresh kernels."""
    from .test_any_size import sample_borough

    sample_borough(tmp_path / "data", 10, seed=3)
    books = tmp_path / "nbs"
    books.mkdir()
    tiny_notebook(books / "one.ipynb", "shown = str(period)")
    res = subprocess.run(
        [*AUDIT, "run", "--data", "data", "--out", "out", "--notebooks", "nbs", "--jobs", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    console = res.stdout + res.stderr
    assert res.returncode == 0 and "one: ok" in console, console
    assert "Error" not in console and "Traceback" not in console, console
