"""``psma-rwe preview``: what a saved file triggers, the served pages, and the hand-over to Quarto.

The unit tests need no browser and no analysis.  The slow ones run the real
command in a subprocess on a project made by ``init_project(with_synthetic=True)``:
in chromium the page must follow an edit of its source without a manual reload,
show a shortcode typo and a YAML error as the page while the server stays up,
and leave neither ``outputs/`` nor any other file in the project or the
temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_browser import CHROMIUM, _browser_or_skip

from analysis import preview
from analysis.preview import DOCUMENTS, Plan, Preview, plan_for
from analysis.projects import init_project

RELOAD_MARK = "psma-rwe preview: live reload"


# --- which documents a changed path maps to -----------------------------------------


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "study"
    init_project(folder, with_synthetic=True)
    return folder


def _plan(project, *rel):
    return plan_for([project / r for r in rel], project, project / "data" / "synthetic")


def test_a_document_source_renders_only_that_document(project):
    assert _plan(project, "report/abstract.qmd") == Plan(frozenset({"abstract"}))
    assert _plan(project, "report/poster.qmd", "report/supplement.qmd").documents == {
        "poster",
        "supplement",
    }


def test_quarto_yml_renders_all_three_and_rereads_the_settings(project):
    plan = _plan(project, "_quarto.yml")
    assert plan.settings and not plan.analysis and plan.documents == set(DOCUMENTS)


def test_data_change_reruns_the_analysis(project):
    plan = _plan(project, "data/synthetic/measurements.csv")
    assert plan.analysis and plan.documents == set(DOCUMENTS)


def test_other_report_files_and_the_extension_render_all(project):
    (project / "report" / "shared.md").write_text("x")
    assert _plan(project, "report/shared.md").documents == set(DOCUMENTS)
    assert _plan(project, "_extensions/psma-rwe/css/report.css").documents == set(DOCUMENTS)


@pytest.mark.parametrize(
    "rel",
    [
        "outputs/2024-01-01-abc/abstract.html",
        "_render/abstract.md",
        ".git/index",
        "report/.abstract.qmd.swp",
        "report/abstract.qmd~",
        "report/4913",
        "report/sedAb12Cd",  # sed -i's temporary file, gone by the time it is seen
        "data/README.md",
        "data/synthetic/notes.txt",
        "notes.md",
    ],
)
def test_paths_that_do_not_matter(project, rel):
    assert not _plan(project, rel)


# --- what a plan does (the steps themselves replaced by recorders) -------------------


@pytest.fixture
def recorded(project, tmp_path, monkeypatch):
    calls = []
    pv = Preview(project, None, tmp_path / "root", log=lambda m: None)
    monkeypatch.setattr(pv, "analyze", lambda: (calls.append("analyze"), pv.prepare()))
    monkeypatch.setattr(pv, "prepare", lambda: (calls.append("prepare"), _ok(pv)))
    monkeypatch.setattr(pv, "sync_sources", lambda: calls.append("sync"))
    monkeypatch.setattr(pv, "render", lambda doc: calls.append(doc))
    monkeypatch.setattr(pv, "_settings", lambda: settings["now"])
    settings = {"now": ("cutoff A", "data")}
    pv.settings = settings["now"]
    return pv, calls, settings


def _ok(pv):
    pv.broken = False
    pv.work = pv.root


def test_qmd_change_does_not_rerun_the_analysis(recorded):
    pv, calls, _ = recorded
    pv.apply(Plan())  # start: nothing prepared yet
    assert calls == ["analyze", "prepare", *DOCUMENTS]
    calls.clear()
    pv.apply(Plan(frozenset({"abstract"})))
    assert calls == ["sync", "abstract"]


def test_data_change_reruns_the_analysis_and_renders_all(recorded):
    pv, calls, _ = recorded
    pv.apply(Plan())
    calls.clear()
    pv.apply(Plan(frozenset(DOCUMENTS), analysis=True))
    assert calls == ["analyze", "prepare", *DOCUMENTS]


def test_quarto_yml_reruns_the_analysis_only_when_its_settings_changed(recorded):
    pv, calls, settings = recorded
    pv.apply(Plan())
    calls.clear()
    pv.apply(Plan(frozenset(DOCUMENTS), settings=True))  # e.g. a new title
    assert calls == ["prepare", *DOCUMENTS]
    calls.clear()
    settings["now"] = ("cutoff B", "data")  # e.g. study.data-cutoff
    pv.apply(Plan(frozenset(DOCUMENTS), settings=True))
    assert calls == ["analyze", "prepare", *DOCUMENTS]


def test_bad_data_is_shown_on_every_page_and_retried_on_the_next_save(project, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("patients.csv", "doses.csv", "measurements.csv", "prior_therapies.csv"):
        (bad / name).write_text("nonsense\n1\n")
    lines = []
    pv = Preview(project, bad, tmp_path / "root", log=lines.append)
    pv.apply(Plan())
    assert pv.broken
    for doc in DOCUMENTS:
        page = pv.state.body(doc)
        assert "not rendered" in page and "patients.csv" in page and RELOAD_MARK in page
    assert any(line.startswith("error:") and "patients.csv" in line for line in lines)


def test_reload_script_is_added_before_body_end_and_messages_are_escaped():
    page = preview.inject_reload("<html><body><p>x</p></body></html>", "poster", 7)
    assert page.index(RELOAD_MARK) < page.index("</body>")
    assert '"/__preview/events?doc=poster"' in page and 'gen="7"' in page
    error = preview.error_page("abstract", "unknown var key {{< var a.b >}} <script>")
    assert "&lt;script&gt;" in error and "<script>" not in error


# --- the server, without a browser -----------------------------------------------------


@pytest.fixture
def served():
    import threading

    state = preview._State()
    server = preview._server(0, state, log=lambda m: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.close()
    server.shutdown()
    server.server_close()


def test_pages_and_event_stream(served):
    state, url = served
    assert "Rendering abstract" in _get(url + "/abstract.html")
    assert all(f'href="/{d}.html"' in _get(url + "/") for d in DOCUMENTS)
    with pytest.raises(urllib.error.HTTPError):
        _get(url + "/secret.txt")
    with urllib.request.urlopen(url + preview.EVENTS + "?doc=abstract", timeout=5) as events:
        assert _next_data(events) == "0"
        state.publish("poster", "<html><body>P</body></html>", None)
        state.publish("abstract", "<html><body>Quokka</body></html>", None)
        assert _next_data(events) == "2"  # the abstract's own generation
    page = _get(url + "/abstract.html")
    assert "Quokka" in page and 'gen="2"' in page and RELOAD_MARK in page
    state.publish("abstract", None, "report/abstract.qmd: unknown var key 'x'")
    assert "unknown var key" in _get(url + "/abstract.html")


def _next_data(stream) -> str:
    for line in stream:
        if line.startswith(b"data: "):
            return line[6:].decode().strip()
    raise AssertionError("stream ended")


def test_a_busy_default_port_gives_a_free_one_and_a_busy_given_port_an_error(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        monkeypatch.setattr(preview, "DEFAULT_PORT", busy)
        lines = []
        server = preview._server(None, preview._State(), log=lines.append)
        assert server.server_address[1] != busy and f"port {busy} is busy" in lines[0]
        server.server_close()
        with pytest.raises(preview.PsmaRweError, match=f"--port {busy}"):
            preview._server(busy, preview._State(), log=lines.append)


# --- the real command ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listing(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(tmp: Path, path_prefix: str = "") -> dict:
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    return env


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode("utf-8")


#: A stand-in for Quarto: records its folder, argv and files, waits (≤ 60 s) for the
#: author's edit to reach its copy of the abstract, then exits with status 3.
FAKE_QUARTO = """#!/bin/sh
printf "%s\\n" "$PWD" "$@" > "$QUARTO_RECORD.tmp"
ls "$PWD" >> "$QUARTO_RECORD.tmp"
mv "$QUARTO_RECORD.tmp" "$QUARTO_RECORD"
i=0
while [ $i -lt 600 ]; do
    if grep -q Quokkaword report/abstract.qmd; then echo synced >> "$QUARTO_RECORD"; break; fi
    sleep 0.1; i=$((i + 1))
done
exit 3
"""


@pytest.mark.slow
def test_quarto_hand_over_runs_quarto_preview_in_the_prepared_work_folder(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "quarto-argv.txt"
    (bin_dir / "quarto").write_text(FAKE_QUARTO)
    (bin_dir / "quarto").chmod(0o755)
    before = _listing(project)
    env = _env(tmp_path / "t", str(bin_dir))
    env["QUARTO_RECORD"] = str(record)
    cmd = [sys.executable, "-m", "analysis", "preview", "--renderer", "quarto"]
    proc = subprocess.Popen(
        [*cmd, "--port", "5931", "--project", str(project)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    source = project / "report" / "abstract.qmd"
    original = source.read_text(encoding="utf-8")
    try:
        deadline = time.monotonic() + 300
        while not record.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "quarto was not started"
            time.sleep(0.2)
        source.write_text(original + "\nQuokkaword.\n", encoding="utf-8")
        _, err = proc.communicate(timeout=120)
    finally:
        source.write_text(original, encoding="utf-8")
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err  # quarto's exit status
    lines = record.read_text().splitlines()
    work = Path(lines[0])
    assert work.is_relative_to(tmp_path / "t")
    assert lines[1:5] == ["preview", "--port", "5931", "--no-browser"]
    assert {"_quarto.yml", "_variables.yml", "report", "tables", "figures"} <= set(lines[5:])
    assert lines[-1] == "synced"  # the author's edit was copied into quarto's folder
    assert not work.exists() and list((tmp_path / "t").iterdir()) == []
    assert _listing(project) == before and not (project / "outputs").exists()


def _wait_text(page, needle: str, timeout: float, absent: str | None = None) -> float:
    """Seconds until the page (reloading itself) shows ``needle``; fails after ``timeout``."""
    from playwright.sync_api import Error

    started = time.monotonic()
    text = ""
    while time.monotonic() - started < timeout:
        try:
            text = page.inner_text("body", timeout=2000)
        except Error:  # the page is reloading
            text = ""
        if needle in text and (absent is None or absent not in text):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not shown within {timeout} s; page: {text[:500]!r}")


@pytest.mark.slow
def test_preview_reloads_on_save_shows_errors_and_leaves_nothing(project, tmp_path):
    sync_playwright = _browser_or_skip()
    port, tmp = _free_port(), tmp_path / "t"
    before = _listing(project)
    source = project / "report" / "abstract.qmd"
    original = source.read_text(encoding="utf-8")
    quarto_yml = project / "_quarto.yml"
    settings = quarto_yml.read_text(encoding="utf-8")
    cmd = [sys.executable, "-m", "analysis", "preview", "--renderer", "embedded"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--project", str(project)],
        env=_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # stopped with Ctrl-C below: a shell without job control starts background
        # jobs with SIGINT ignored, and children inherit that (a CI run did so)
        preexec_fn=_default_sigint,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                index = _get(url + "/")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        for doc in DOCUMENTS:
            assert f'href="/{doc}.html"' in index
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url + "/abstract.html")
            _wait_text(page, "Conclusions", 300)  # first analysis; the page reloads itself
            (site,) = tmp.glob("psma-rwe-preview-*/site")
            assert RELOAD_MARK not in (site / "abstract.html").read_text(encoding="utf-8")

            source.write_text(original.replace("## Conclusions", "Quokkaword.\n\n## Conclusions"))
            took = _wait_text(page, "Quokkaword", 60)
            print(f"save → reload: {took:.2f} s")

            key = re.search(r"\{\{< var ([\w.]+) >\}\}", original).group(1)
            source.write_text(
                original.replace(f"{{{{< var {key} >}}}}", f"{{{{< var {key}tt >}}}}")
            )
            _wait_text(page, "unknown var key", 60)
            assert f"{key}tt" in page.inner_text("body")
            assert proc.poll() is None

            source.write_text(original)
            _wait_text(page, "Conclusions", 60, absent="unknown var key")

            quarto_yml.write_text(settings + "\nstudy: [unclosed\n")
            _wait_text(page, "YAML", 60)
            assert proc.poll() is None
            quarto_yml.write_text(settings)
            _wait_text(page, "Conclusions", 300, absent="YAML")  # analysis rerun after an error

            page.goto(url + "/poster.html")
            _wait_text(page, "Conclusions", 60)
            assert page.locator("svg, img").count() > 0
            # the PDF's balance (compiled aside): the same figures as the PDF poster
            assert page.locator(".poster-columns[data-planned]").count() == 1
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"{url}/" in out
    assert "error in abstract: report/abstract.qmd: unknown var key" in err
    assert list(tmp.iterdir()) == []  # the temporary folder is removed on exit
    assert _listing(project) == before  # no outputs/, no _render/, every edit undone
