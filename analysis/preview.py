"""``psma-rwe preview``: the three documents served on localhost, re-rendered on save.

The project is prepared as :func:`analysis.build.build` prepares it
(:func:`analysis.build.analyze_into`, :func:`analysis.build.prepare_work`), but in
a temporary folder removed on exit: nothing is written to ``outputs/`` or into
the project.  :mod:`watchdog` reports saved files; :func:`plan_for` says what a
change needs:

* ``report/<doc>.qmd``: that document's HTML is rendered again;
* other files of ``report/`` or of the format extension: all three documents;
* ``_quarto.yml``: the work folder's variables are remade and all three are
  rendered; the analysis is rerun only when the settings it reads
  (``study.data-cutoff``, ``study.landmark-weeks``, ``study.data``) changed;
* the cohort's files: validated and analysed again, then all three documents.

Pages are served with a small inline script (added when served, never written
to a file) that listens on :data:`EVENTS` (Server-Sent Events) and reloads the
page when its document changed.  A failed step (a shortcode typo, invalid
YAML, bad data) is shown as the page itself and printed in the terminal; the
server keeps running and the page reloads when the source is fixed.

With ``renderer="quarto"`` the prepared work folder is handed to
``quarto preview`` (run in it); psma-rwe keeps copying the project's sources
into it and reruns the analysis when data change, and Quarto renders and
reloads.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Empty, Queue

from analysis import build as builder
from analysis.errors import PsmaRweError

DOCUMENTS = builder.DOCUMENTS
DEFAULT_PORT = 4848
HOST = "127.0.0.1"
#: The Server-Sent Events endpoint the served pages listen on.
EVENTS = "/__preview/events"
#: Seconds without a new file event before a batch of changes is handled.
SETTLE = 0.25
#: Names of editors' back-up and temporary files (vim's write test file is "4913").
_LITTER_ENDS, _LITTER_STARTS = ("~", ".swp", ".swx", ".tmp", ".part"), (".", "#")

Log = Callable[[str], None]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    """What a batch of changed files needs: the ``documents`` to render again, whether to
    validate and analyse the cohort again (``analysis``), whether ``_quarto.yml`` changed
    (``settings``: remake the work folder; rerun the analysis if its settings changed)."""

    documents: frozenset = frozenset()
    analysis: bool = False
    settings: bool = False

    def __bool__(self) -> bool:
        return bool(self.documents or self.analysis or self.settings)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def plan_for(paths: Iterable[Path | str], project_dir: Path, data_path: Path) -> Plan:
    """Map changed files to the work they need.

    Parameters
    ----------
    paths : iterable of path
        Files reported changed (absolute).
    project_dir : Path
        The study project.
    data_path : Path
        The cohort folder or workbook in use.

    Returns
    -------
    Plan
        Empty (false) when no path matters (``outputs/``, ``_render/``, hidden
        files, editor back-ups and temporary files, anything else outside the sources).
    """
    from analysis import config

    project_dir, data_path = Path(project_dir).resolve(), Path(data_path).resolve()
    docs: set[str] = set()
    analysis = settings = False
    for raw in paths:
        path = Path(raw).resolve()
        name = path.name
        if name.endswith(_LITTER_ENDS) or name.startswith(_LITTER_STARTS) or name.isdigit():
            continue
        if _inside(path, data_path):
            if path == data_path or path.name in config.INPUT_FILES:
                analysis = True
            continue
        if not _inside(path, project_dir):
            continue
        rel = path.relative_to(project_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if rel.as_posix() == "_quarto.yml":
            settings = True
        elif rel.parts[0] == "report":
            if len(rel.parts) == 2 and rel.suffix == ".qmd" and rel.stem in DOCUMENTS:
                docs.add(rel.stem)
            elif path.exists():  # an include, the bibliography (not a vanished temp file)
                docs.update(DOCUMENTS)
        elif rel.parts[0] in ("_extensions", "fonts"):
            docs.update(DOCUMENTS)
    if analysis or settings:
        docs.update(DOCUMENTS)
    return Plan(frozenset(docs), analysis, settings)


def inject_reload(page: str, doc: str, generation: int) -> str:
    """``page`` with the live-reload script before ``</body>`` (for serving only)."""
    script = (
        "<script>/* psma-rwe preview: live reload (served pages only) */\n(function(){"
        f"var gen={json.dumps(str(generation))},key='psma-preview-y-'+location.pathname;"
        "var y=sessionStorage.getItem(key);if(y!==null){sessionStorage.removeItem(key);"
        "window.addEventListener('load',function(){window.scrollTo(0,+y);});}"
        f"var es=new EventSource({json.dumps(EVENTS + '?doc=' + doc)});"
        "es.onmessage=function(e){if(e.data!==gen){es.close();"
        "sessionStorage.setItem(key,String(window.scrollY));location.reload();}};"
        "})();</script>\n"
    )
    head, sep, tail = page.rpartition("</body>")
    return head + script + sep + tail if sep else page + script


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}pre{white-space:pre-wrap;background:#fff4f4;border-left:4px solid "
        "#c00;padding:1rem}</style></head><body>" + body + "</body></html>"
    )


def error_page(doc: str, message: str) -> str:
    """A readable page for a document that could not be rendered."""
    return _page(
        f"Error: {doc} (psma-rwe preview)",
        f"<h1>{html.escape(doc)}: not rendered</h1><pre>{html.escape(message)}</pre>"
        "<p>Fix the source and save: this page reloads by itself. "
        '<a href="/">All documents</a></p>',
    )


@dataclass
class _State:
    """What the server shows, shared between the render worker and the HTTP threads."""

    pages: dict = field(default_factory=dict)  # doc -> rendered HTML
    errors: dict = field(default_factory=dict)  # doc -> message
    generation: dict = field(default_factory=lambda: {d: 0 for d in DOCUMENTS})
    total: int = 0
    closing: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    def publish(self, doc: str, page: str | None, error: str | None) -> None:
        with self.changed:
            if page is not None:
                self.pages[doc] = page
            self.errors[doc] = error
            self.total += 1
            self.generation[doc] = self.total
            self.changed.notify_all()

    def close(self) -> None:
        """Let the event streams end."""
        with self.changed:
            self.closing = True
            self.changed.notify_all()

    def current(self, doc: str) -> int:
        return self.generation.get(doc, self.total) if doc in DOCUMENTS else self.total

    def body(self, doc: str) -> str:
        with self.changed:
            error, page, gen = self.errors.get(doc), self.pages.get(doc), self.current(doc)
        if error is not None:
            page = error_page(doc, error)
        elif page is None:
            page = _page(f"{doc} (psma-rwe preview)", f"<p>Rendering {doc}…</p>")
        return inject_reload(page, doc, gen)

    def index(self) -> str:
        with self.changed:
            rows = "".join(
                f'<li><a href="/{d}.html">{d}</a> '
                + ("(error)" if self.errors.get(d) else "" if d in self.pages else "(rendering)")
                + "</li>"
                for d in DOCUMENTS
            )
            gen = self.total
        body = f"<h1>psma-rwe preview</h1><ul>{rows}</ul><p>Pages reload when saved.</p>"
        return inject_reload(_page("psma-rwe preview", body), "", gen)


def _handler(state: _State):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # quiet: the terminal shows renders
            pass

        def _head(self, status: int, kind: str, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-store")
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()

        def _send(self, status: int, text: str) -> None:
            data = text.encode("utf-8")
            self._head(status, "text/html; charset=utf-8", len(data))
            self.wfile.write(data)

        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path in ("/", "/index.html"):
                return self._send(200, state.index())
            if path == EVENTS:
                return self._events(query.removeprefix("doc="))
            doc = path.strip("/").removesuffix(".html")
            if path == f"/{doc}.html" and doc in DOCUMENTS:
                return self._send(200, state.body(doc))
            return self._send(404, _page("Not found", "<p>Not found. <a href='/'>Index</a></p>"))

        def _events(self, doc: str) -> None:
            self._head(200, "text/event-stream")
            sent = None
            try:
                while not state.closing:
                    with state.changed:
                        if state.current(doc) == sent:
                            state.changed.wait(10)
                        now = state.current(doc)
                    message = f"data: {now}\n\n" if now != sent else ": keep-alive\n\n"
                    retry = "retry: 1000\n" if sent is None else ""
                    self.wfile.write((retry + message).encode())
                    self.wfile.flush()
                    sent = now
            except OSError:  # the page went away
                pass

    return Handler


def _server(port: int | None, state: _State, log: Log) -> ThreadingHTTPServer:
    """Bind on localhost: ``port``, or :data:`DEFAULT_PORT` else a free one when ``None``."""
    handler = _handler(state)
    try:
        server = ThreadingHTTPServer((HOST, DEFAULT_PORT if port is None else port), handler)
    except OSError as exc:
        if port is not None:
            raise PsmaRweError(f"--port {port}: cannot listen on it ({exc.strerror})") from None
        server = ThreadingHTTPServer((HOST, 0), handler)
        log(f"port {DEFAULT_PORT} is busy; using {server.server_address[1]}")
    server.daemon_threads = True
    return server


def _message(exc: Exception) -> str:
    return exc.render() if isinstance(exc, PsmaRweError) else f"{type(exc).__name__}: {exc}"


class Preview:
    """The temporary work folder of one preview and the steps that keep it current."""

    def __init__(self, project_dir: Path, data_dir: Path | None, root: Path, log: Log):
        self.project_dir, self.data_arg, self.root, self.log = project_dir, data_dir, root, log
        self.state = _State()
        self.built = root / "build"  # analyze_into's folder; work = built/_project
        self.site = root / "site"
        self.work: Path | None = None
        #: Folder kept in step with the work folder in place (``quarto preview`` runs there).
        self.mirror: Path | None = None
        self.cohort = self.analysis = self.settings = None
        self.broken = True  # no usable work folder yet: the next change rebuilds it

    @property
    def data_path(self) -> Path:
        """The cohort in use: the data argument, else the project's ``study.data``."""
        from analysis import projects

        try:
            return Path(self.data_arg or projects.default_data(self.project_dir))
        except PsmaRweError:  # invalid _quarto.yml: shown by the step that reads it next
            return self.project_dir / projects.DEFAULT_DATA

    def _settings(self) -> tuple:
        return (builder.analysis_settings(self.project_dir / "_quarto.yml"), self.data_path)

    def analyze(self) -> None:
        """Validate and analyse the cohort into a fresh folder, then prepare the work folder."""
        from analysis.load import load_cohort

        started = time.perf_counter()
        self.settings = self._settings()
        self.cohort = load_cohort(self.data_path)
        shutil.rmtree(self.built, ignore_errors=True)
        self.built.mkdir(parents=True)
        self.analysis = builder.analyze_into(self.built, self.project_dir, self.cohort)
        self.log(f"analysed {self.data_path} in {time.perf_counter() - started:.1f} s")
        self.prepare()

    def prepare(self) -> None:
        """Remake the work folder from the project's sources and the last analysis."""
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
        self.work = builder.prepare_work(self.built, self.project_dir, self.analysis, self.cohort)
        if self.mirror is not None:  # quarto preview: fonts, Word's PNGs and reference
            from analysis.render import quarto

            quarto.write_support(self.work)
        self.broken = False

    def sync_sources(self) -> None:
        """Copy ``report/``, the extension and the fonts of the project into the work folder."""
        from analysis.fonts import PROJECT_FONTS_DIR
        from analysis.render.extension import RELATIVE_DIR

        for name in ("report", RELATIVE_DIR, PROJECT_FONTS_DIR):
            source, target = self.project_dir / name, self.work / name
            shutil.rmtree(target, ignore_errors=True)
            if source.is_dir():
                shutil.copytree(source, target)

    def render(self, doc: str) -> None:
        """Render one document's HTML and publish it, or publish its error."""
        from analysis.render import render_document

        started = time.perf_counter()
        try:
            paths = render_document(
                self.work, f"report/{doc}.qmd", self.site, formats=("html",), follow_pdf=True
            )
            page = paths["html"].read_text(encoding="utf-8")
        except Exception as exc:  # a tool's crash is shown too: the server keeps running
            self.state.publish(doc, None, _message(exc))
            self.log(f"error in {doc}: {_message(exc)}")
            return
        self.state.publish(doc, page, None)
        self.log(f"rendered {doc} in {time.perf_counter() - started:.2f} s")

    def apply(self, plan: Plan, render: bool = True) -> None:
        """Do what ``plan`` says; an error is published for every document it concerns."""
        try:
            if self.broken or plan.analysis:
                self.analyze()
                docs = DOCUMENTS
            elif plan.settings:
                if self._settings() != self.settings:
                    self.analyze()
                else:
                    self.prepare()
                docs = DOCUMENTS
            else:
                self.sync_sources()
                docs = [d for d in DOCUMENTS if d in plan.documents]
        except Exception as exc:  # bad data, invalid YAML: shown on every page
            self.broken = True
            self.log(f"error: {_message(exc)}")
            for doc in DOCUMENTS:
                self.state.publish(doc, None, _message(exc))
            return
        if self.mirror is not None:
            shutil.copytree(self.work, self.mirror, dirs_exist_ok=True)
        if render:
            for doc in docs:
                self.render(doc)


def _watch(preview: Preview, queue: Queue):
    """Start a :mod:`watchdog` observer putting the paths of changed files on ``queue``."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event):
            kind = event.event_type
            if kind in ("opened", "closed_no_write") or (event.is_directory and kind == "modified"):
                return
            for path in (event.src_path, getattr(event, "dest_path", "")):
                if path:
                    queue.put(Path(os.fsdecode(path)))

    observer, handler = Observer(), Handler()
    observer.schedule(handler, str(preview.project_dir.resolve()), recursive=True)
    data = preview.data_path.resolve()
    if data.exists() and not _inside(data, preview.project_dir.resolve()):
        folder = data if data.is_dir() else data.parent
        observer.schedule(handler, str(folder), recursive=data.is_dir())
    observer.start()
    return observer


def _next_batch(queue: Queue, timeout: float) -> list[Path]:
    """Paths changed, collected until none came for :data:`SETTLE` seconds."""
    paths: list[Path] = []
    try:
        paths.append(queue.get(timeout=timeout))
        while True:
            paths.append(queue.get(timeout=SETTLE))
    except Empty:
        return paths


def serve(
    data_dir: Path | str | None = None,
    *,
    project_dir: Path | str | None = None,
    port: int | None = None,
    renderer: str = "embedded",
    open_browser: bool = False,
    log: Log = _log,
) -> int:
    """Serve the documents until interrupted (Ctrl-C or SIGTERM); returns the exit status.

    Parameters
    ----------
    data_dir : path, optional
        Cohort folder or workbook; default the project's ``study.data``.
    project_dir : path, optional
        The study project; default the nearest one upward.
    port : int, optional
        Port on 127.0.0.1; default :data:`DEFAULT_PORT`, or a free one if it is busy.
    renderer : {"auto", "embedded", "quarto"}
        ``quarto`` (or ``auto`` with quarto on PATH) runs ``quarto preview`` in the
        prepared work folder instead of the embedded renderer and server.
    open_browser : bool
        Open the index page in the default browser.
    log : callable
        Receives each line for the terminal.

    Raises
    ------
    PsmaRweError
        No project, a missing format extension, a busy ``port``, or no quarto for
        ``renderer="quarto"``.  Errors in the documents or data are shown, not raised.
    """
    from analysis import projects
    from analysis.render.extension import extension_dir

    project_dir = projects.resolve_project(project_dir)
    extension_dir(project_dir)
    if renderer == "quarto" and not builder.quarto_available():
        raise PsmaRweError("--renderer quarto: quarto is not on PATH; use --renderer embedded")
    use_quarto = renderer == "quarto" or (renderer == "auto" and builder.quarto_available())
    root = Path(tempfile.mkdtemp(prefix="psma-rwe-preview-"))
    preview = Preview(project_dir, None if data_dir is None else Path(data_dir), root, log)
    queue: Queue = Queue()
    observer = server = None
    try:
        with builder._terminate_as_interrupt():
            observer = _watch(preview, queue)
            if use_quarto:
                return _quarto(preview, queue, port, open_browser)
            server = _server(port, preview.state, log)
            url = f"http://{HOST}:{server.server_address[1]}/"
            threading.Thread(target=server.serve_forever, daemon=True).start()
            print(f"psma-rwe preview of {project_dir}: {url}  (Ctrl-C to stop)", flush=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)
            preview.apply(Plan())
            while True:
                plan = plan_for(_next_batch(queue, 1.0), project_dir, preview.data_path)
                if plan:
                    preview.apply(plan)
    except KeyboardInterrupt:
        log("preview stopped")
        return 0
    finally:
        preview.state.close()
        if server is not None:
            server.shutdown()
            server.server_close()
        if observer is not None:
            observer.stop()
            observer.join(5)
        shutil.rmtree(root, ignore_errors=True)


def _quarto(preview: Preview, queue: Queue, port: int | None, open_browser: bool) -> int:
    """Hand over to ``quarto preview`` in the work folder, keeping it in step with the project."""
    preview.mirror = preview.root / "quarto"
    preview.apply(Plan(), render=False)
    if preview.broken:
        raise PsmaRweError(preview.state.errors[DOCUMENTS[0]])
    argv = ["quarto", "preview", "--port", str(port or DEFAULT_PORT)]
    argv += [] if open_browser else ["--no-browser"]
    preview.log(f"handing over to {' '.join(argv)} in {preview.mirror}")
    proc = subprocess.Popen(argv, cwd=preview.mirror)
    try:
        while proc.poll() is None:
            plan = plan_for(_next_batch(queue, 0.5), preview.project_dir, preview.data_path)
            if plan:
                preview.apply(plan, render=False)
        return proc.returncode
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
