"""The front end a learner sees: lessons 01 and 05 run in JupyterLab in a real (headless) Chromium.

Run by ``make test-browser`` only (``make test`` does not collect this folder and needs no browser). It starts
JupyterLab on 127.0.0.1 with a token, in the smoke profile and offline, on temporary copies of the lessons (the
committed notebooks are never opened for writing), then drives Debian's ``chromium`` with Playwright for Python
through ``executable_path`` (Playwright's own browser download is not needed). For each lesson it

* checks that the saved outputs render: no widget says "Error displaying widget" or stays "Loading widget...";
* runs every cell (Run All), and fails on an error in a cell not tagged ``raises-exception``;
* checks that the kernel is the course's (``.venv``'s Python, the smoke profile in its environment);
* moves a slider with the keyboard (noUiSlider handle, ArrowRight) and checks that the widget's picture changed;
* lesson 01: clicks **Train** and checks that the training output appears;
* checks the widget errors again.

Widgets are found by their description label (``mean μ``, ``seed``, ``Train``), never by position, so adding a
widget to a lesson does not break this test. Every wait is bounded; the server runs as a subprocess and is stopped by
its PID (terminate, then kill) in a ``finally`` block. Logs (server, browser console) and, on failure, a screenshot are
written to ``outputs/browser/`` (git-ignored).

Environment: ``CHROMIUM`` (path of the browser, default: ``chromium`` on PATH); ``BROWSER_TIMEOUT_SCALE`` (default 1)
multiplies every time limit (Run All: 3 min for lesson 01, 5 min for lesson 05; server start 2 min; a widget's
redraw 90 s), for a machine that is busy with something else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = Path(sys.prefix) / "bin" / "python"
KERNEL = "image-synthesis-course"
OUT = REPO / "outputs" / "browser"
LOGS = OUT / "logs"
ROOT = OUT / "root"  # JupyterLab's root: copies of the lessons under notebooks/
LESSONS = {"01": "01_gan_objective.ipynb", "05": "05_gan_engineering.ipynb"}
# Every wait is bounded; on a loaded machine, BROWSER_TIMEOUT_SCALE=3 (say) stretches them all.
SCALE = float(os.environ.get("BROWSER_TIMEOUT_SCALE", "1"))
RUN_TIMEOUT_S = {"01": SCALE * 180, "05": SCALE * 300}  # Run All, in the smoke profile
SERVER_START_S = SCALE * 120
WIDGET_UPDATE_S = SCALE * 90
STALL_S = SCALE * 60  # Run All has stopped if the kernel is idle and no cell got a number for this long
ERROR_TEXT = "Error displaying widget"
LOADING_TEXT = "Loading widget"  # ipywidgets 8 writes "Loading widget..."

# JupyterLab settings for the test server only (its own user-settings folder): every cell in the DOM (no
# windowing, so every widget is rendered and can be checked), no autosave, no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
}


def _wait_for(condition: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s`` saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium found: install Debian's package (`apt-get install -y chromium`) or set CHROMIUM=/path")
    return path


class Lab:
    """A running JupyterLab server (see the ``lab`` fixture)."""

    def __init__(self, proc: subprocess.Popen, port: int, token: str) -> None:
        self.proc, self.port, self.token = proc, port, token
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path: str, timeout_s: float = 10, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shut_down_sessions(self) -> None:
        """Shut down every notebook session (and its kernel), so the next lesson has the CPUs and memory."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", timeout_s=60, method="DELETE")

    def kernel_processes(self) -> list[psutil.Process]:
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if _safe(lambda p=p: "ipykernel_launcher" in " ".join(p.cmdline()))]


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _stop(proc: subprocess.Popen, leftovers: list[psutil.Process]) -> None:
    """Stop the server by its PID (SIGTERM, then SIGKILL after 30 s), then any kernel it left behind, by PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    for child in leftovers:
        if _safe(child.is_running):
            _safe(child.terminate)
            try:
                child.wait(timeout=10)
            except psutil.TimeoutExpired:
                _safe(child.kill)
            except psutil.NoSuchProcess:
                pass


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 (free port, token), smoke profile and offline, over copies of lessons 01 and 05."""
    shutil.rmtree(OUT, ignore_errors=True)
    (ROOT / "notebooks").mkdir(parents=True)
    LOGS.mkdir(parents=True)
    for name in LESSONS.values():
        nb = json.loads((REPO / "notebooks" / name).read_text(encoding="utf-8"))
        # The copy asks for the kernel `make` registers, so it can only run on .venv's Python (checked below).
        nb["metadata"]["kernelspec"] = {"name": KERNEL, "display_name": "Python (image synthesis course)",
                                        "language": "python"}
        (ROOT / "notebooks" / name).write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    for rel, settings in LAB_SETTINGS.items():
        path = OUT / "lab-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")

    port, token = _free_port(), "course-browser-test"
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # the kernel must plot inline
    env.update(COURSE_PROFILE="smoke", COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0",
               COURSE_CACHE_DIR=str(OUT / "cache"), JUPYTER_CONFIG_DIR=str(OUT / "jupyter-config"),
               JUPYTER_DATA_DIR=str(OUT / "jupyter-data"), JUPYTER_RUNTIME_DIR=str(OUT / "jupyter-runtime"),
               JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1")
    cmd = [str(Path(sys.prefix) / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={OUT / 'lab-settings'}",
           f"--LabApp.workspaces_dir={OUT / 'lab-workspaces'}", "--ServerApp.open_browser=False"]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    log = open(LOGS / "jupyter-server.log", "wb")  # noqa: SIM115 (closed in the finally block)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Lab(proc, port, token)
    kernels: list[psutil.Process] = []
    try:
        def answers() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {proc.returncode}; see {LOGS / 'jupyter-server.log'}")
            try:
                return server.api("/api/status", timeout_s=5) is not None
            except OSError:
                return False

        _wait_for(answers, SERVER_START_S, "JupyterLab to answer on /api/status", interval_s=1)
        spec = server.api("/api/kernelspecs")["kernelspecs"].get(KERNEL)
        assert spec is not None, f"kernel {KERNEL!r} is not registered (run `make .venv/.course-installed`)"
        assert Path(spec["spec"]["argv"][0]) == VENV_PYTHON, f"kernel {KERNEL!r} runs {spec['spec']['argv'][0]}"
        yield server
    finally:
        kernels = server.kernel_processes()
        _stop(proc, kernels)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's package) driven by Playwright."""
    args = ["--no-sandbox"] if os.getuid() == 0 else []  # Chromium's sandbox refuses to run as root
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=_chromium(), headless=True, args=args, timeout=SCALE * 60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page_for(browser: Browser, lab: Lab, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Page]]:
    """A fresh page per lesson; its console goes to a log, and a failed test leaves a full-page screenshot."""
    pages: list[tuple[str, Page, list[str]]] = []

    def make(lesson: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(SCALE * 30_000)
        console: list[str] = []
        page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda err: console.append(f"[pageerror] {err}"))
        pages.append((lesson, page, console))
        return page

    yield make
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for lesson, page, console in pages:
        (LOGS / f"browser-console-{lesson}.log").write_text("\n".join(console) + "\n", encoding="utf-8")
        if failed:
            try:
                page.screenshot(path=str(LOGS / f"failure-{lesson}.png"), full_page=True, timeout=30_000)
            except Exception as err:  # noqa: BLE001 (a screenshot is best effort)
                print(f"no screenshot for lesson {lesson}: {err}")
        page.context.close()
    try:
        lab.shut_down_sessions()
    except OSError as err:
        print(f"could not shut the sessions down: {err}")


# --- helpers that read the page ------------------------------------------------------------------------------------

NOTEBOOK_STATE_JS = """() => {
  const widget = window.jupyterapp.shell.currentWidget;
  if (!widget || !widget.content || !widget.content.model || !widget.sessionContext) { return null; }
  const cells = [];
  for (const cell of widget.content.model.cells) {
    if (cell.type !== 'code') { continue; }
    const outputs = cell.outputs.toJSON();
    cells.push({count: cell.executionCount, state: cell.executionState || null,
                tags: cell.getMetadata('tags') || [],
                errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)});
  }
  const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
  return {cells, kernel: kernel ? kernel.name : null, status: kernel ? kernel.status : null,
          running: [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]
                     .filter(p => p.textContent.includes('*')).length};
}"""


def _notebook_state(page: Page) -> dict | None:
    return page.evaluate(NOTEBOOK_STATE_JS)


def _notebook(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")


def _widget_problems(page: Page) -> dict[str, int]:
    notebook = _notebook(page)
    return {"errors": notebook.get_by_text(ERROR_TEXT).count(), "loading": notebook.get_by_text(LOADING_TEXT).count(),
            "views": notebook.locator(".jupyter-widgets").count()}


def _assert_widgets_render(page: Page, when: str) -> dict[str, int]:
    """Wait (bounded) until no widget is still loading, then require no widget error."""
    problems = _wait_for(lambda: (p := _widget_problems(page))["loading"] == 0 and p, WIDGET_UPDATE_S,
                         f"every widget to finish loading ({when})")
    assert problems["errors"] == 0, f"{problems['errors']} widget(s) show {ERROR_TEXT!r} ({when})"
    return problems


def _open(page: Page, lab: Lab, lesson: str) -> None:
    page.goto(f"{lab.base}/lab/tree/notebooks/{LESSONS[lesson]}?token={lab.token}", timeout=SCALE * 90_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.content"
                           " && window.jupyterapp.shell.currentWidget.content.model", timeout=SCALE * 90_000)
    _wait_for(lambda: (s := _notebook_state(page)) and s["status"] == "idle", SERVER_START_S,
              f"lesson {lesson}'s kernel to start")


def _run_all(page: Page, lesson: str) -> dict:
    """Run All Cells; wait (bounded) until every code cell has run, or one failed, and the kernel is idle.

    On a busy machine the page can take seconds to hear of each reply, so "the kernel is idle and no cell is
    running" is not enough to call the run finished: it also needs every code cell numbered (or an error that
    stops Run All, or no progress at all for a long while).
    """
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    started = time.monotonic()
    last_progress: tuple[float, list] = (started, [])

    def unexpected(state: dict) -> list:
        return [(i, c["errors"]) for i, c in enumerate(state["cells"])
                if c["errors"] and "raises-exception" not in c["tags"]]

    def finished() -> dict | None:
        nonlocal last_progress
        state = _notebook_state(page)
        if state is None:
            return None
        counts = [c["count"] for c in state["cells"]]
        if counts != last_progress[1]:
            last_progress = (time.monotonic(), counts)
        idle = (state["status"] == "idle" and state["running"] == 0
                and not any(c["state"] == "running" for c in state["cells"]))
        if not idle or time.monotonic() - started < 3:
            return None
        if all(count is not None for count in counts) or unexpected(state):
            return state
        return state if time.monotonic() - last_progress[0] > STALL_S else None  # Run All stopped early

    state = _wait_for(finished, RUN_TIMEOUT_S[lesson], f"lesson {lesson} to run to the end (Run All)", interval_s=1)
    print(f"lesson {lesson}: Run All took {time.monotonic() - started:.0f} s")
    assert not unexpected(state), f"lesson {lesson}: errors in code cells not tagged raises-exception: {unexpected(state)}"
    not_run = [i for i, c in enumerate(state["cells"]) if c["count"] is None]
    assert not not_run, f"lesson {lesson}: code cells {not_run} did not run (Run All stopped early)"
    return state


def _assert_course_kernel(lab: Lab, lesson: str) -> None:
    sessions = [s for s in lab.api("/api/sessions") if s["path"].endswith(LESSONS[lesson])]
    assert sessions and sessions[0]["kernel"]["name"] == KERNEL, f"lesson {lesson} runs on {sessions}"
    kernels = lab.kernel_processes()
    assert kernels, "no kernel process found under the server"
    for kernel in kernels:
        assert Path(kernel.cmdline()[0]) == VENV_PYTHON, f"a kernel runs {kernel.cmdline()[0]}, not {VENV_PYTHON}"
        environ = _safe(kernel.environ) or {}
        assert environ.get("COURSE_PROFILE") == "smoke" and environ.get("COURSE_OFFLINE") == "1", \
            "the kernel did not inherit COURSE_PROFILE=smoke COURSE_OFFLINE=1"


def _labelled(page: Page, kind: str, label: str) -> tuple[Locator, Locator]:
    """The cell showing the one widget of class ``widget-<kind>`` labelled exactly ``label``, and that widget.

    The label is the widget's description (``.widget-label``) or, for a button, its text.
    """
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    # Locators given to `has=` are relative to the element they filter, hence `page.locator` here.
    widget = page.locator(f".widget-{kind}")
    widget = (widget.filter(has_text=exact) if kind == "button"
              else widget.filter(has=page.locator(".widget-label", has_text=exact)))
    cell = _notebook(page).locator(".jp-Cell").filter(has=widget)
    _wait_for(lambda: cell.count() >= 1, WIDGET_UPDATE_S, f"a {kind} widget labelled {label!r}")
    assert cell.count() == 1, f"expected one cell with a {kind} widget labelled {label!r}, found {cell.count()}"
    found = cell.locator(f".widget-{kind}")
    found = (found.filter(has_text=exact) if kind == "button"
             else found.filter(has=page.locator(".widget-label", has_text=exact)))
    assert found.count() == 1, f"expected one {kind} widget labelled {label!r}, found {found.count()}"
    return cell, found


def _output_area(cell: Locator) -> Locator:
    """The cell's output area: the pictures the cell's widgets redraw are in it."""
    return cell.locator(".jp-Cell-outputArea")


def _pictures(area: Locator) -> list[str]:
    return area.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src') || '')")


def _move_slider(page: Page, slider: Locator, presses: int) -> tuple[str, str]:
    """Focus the slider's noUiSlider handle and press ArrowRight; return the readout before and after."""
    readout = slider.locator(".widget-readout")
    before = readout.inner_text().strip()
    handle = slider.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
        time.sleep(0.3)
    after = _wait_for(lambda: (text := readout.inner_text().strip()) != before and text, 10,
                      "the slider's readout to change")
    return before, after


def _wait_kernel_idle(page: Page, what: str) -> None:
    quiet_since = None

    def idle() -> bool:
        nonlocal quiet_since
        state = _notebook_state(page)
        if state is None or state["status"] != "idle":
            quiet_since = None
            return False
        quiet_since = quiet_since or time.monotonic()
        return time.monotonic() - quiet_since >= 2

    _wait_for(idle, WIDGET_UPDATE_S, what)


def _check_slider_redraws(page: Page, label: str, presses: int) -> None:
    cell, slider = _labelled(page, "slider", label)
    area = _output_area(cell)
    before = _pictures(area)
    assert before, f"no picture next to the {label!r} slider before moving it"
    old, new = _move_slider(page, slider, presses)
    _wait_kernel_idle(page, f"the kernel to redraw after moving {label!r}")
    after = _wait_for(lambda: (p := _pictures(area)) and p != before and p, WIDGET_UPDATE_S,
                      f"the picture to change after moving {label!r} from {old} to {new}")
    print(f"slider {label!r}: {old} -> {new}, {len(before)} -> {len(after)} picture(s), changed")


# --- the tests -------------------------------------------------------------------------------------------------------


def _lesson_front_end(page: Page, lab: Lab, lesson: str) -> None:
    _open(page, lab, lesson)
    saved = _assert_widgets_render(page, "saved outputs, on opening")
    print(f"lesson {lesson}: {saved['views']} widget view(s) rendered from the saved notebook")
    _run_all(page, lesson)
    _assert_course_kernel(lab, lesson)
    live = _assert_widgets_render(page, "after Run All")
    assert live["views"] > 0, f"lesson {lesson}: no widget rendered after Run All"


def test_lesson_01_sliders_and_train_button(lab: Lab, page_for) -> None:
    page = page_for("01")
    _lesson_front_end(page, lab, "01")
    _check_slider_redraws(page, "mean μ", presses=3)
    _check_slider_redraws(page, "spread σ", presses=2)

    cell, button = _labelled(page, "button", "Train")
    area = _output_area(cell)
    assert "W1" not in area.inner_text()
    button.scroll_into_view_if_needed()
    button.click()
    _wait_for(lambda: re.search(r"W1 \d", area.inner_text()), WIDGET_UPDATE_S + 60, "the Train button's result")
    _wait_kernel_idle(page, "training to finish")
    assert _pictures(area), "the Train button's output has no figure"
    print("Train:", re.search(r"mean .*W1 [0-9.]+", area.inner_text()).group(0))
    _assert_widgets_render(page, "after the widgets were used")


def test_lesson_05_seed_slider(lab: Lab, page_for) -> None:
    page = page_for("05")
    _lesson_front_end(page, lab, "05")
    _check_slider_redraws(page, "seed", presses=3)

    # Lesson 05 lets the learner choose the generator ("your run" / the course's trained one): use the first menu.
    generator = _notebook(page).locator(".jp-Cell .widget-dropdown").filter(
        has=page.locator(".widget-label", has_text=re.compile(r"generator", re.IGNORECASE)))
    if generator.count() >= 1:
        cell = _notebook(page).locator(".jp-Cell").filter(has=page.locator(".widget-dropdown").filter(
            has=page.locator(".widget-label", has_text=re.compile(r"generator", re.IGNORECASE)))).first
        select = generator.first.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        other = next(o for o in options if o != current)
        area = _output_area(cell)
        before = _pictures(area)
        select.select_option(label=other)
        _wait_kernel_idle(page, f"the kernel to redraw with generator {other!r}")
        changed = _pictures(area) != before
        print(f"generator dropdown: {current!r} -> {other!r}, pictures changed: {changed}")
        _check_slider_redraws(page, "seed", presses=2)
    _assert_widgets_render(page, "after the widgets were used")
