"""The page walker: opens every page a member can reach from the navigation and reports what is wrong with it.

From the fleet's overview it follows the same-origin links of every page it opens (the navigation's and the
pages' own), so a page added to the navigation is walked without a change here. On each page it notes console
errors (Content-Security-Policy violations among them), failed requests and files, answers of 500 and above,
anything wider than the screen, and words that are not a manager's (raw enum values, endpoint paths). Each POST form
is then sent once with input it must refuse, and the refusal must be visible.

Findings are collected, never raised one by one, so that a run reports all of them at once.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from tests.e2e.layout import overflow

# Links the walker does not follow: leaving the app, signing out, files, the operators' admin, the simulated
# car-maker's pages, invitation links (accepting one is a write).
SKIPPED_PATHS = re.compile(
    r"^/(admin|simulator|static|media|webhooks|invitations)/|^/accounts/logout/|\.(csv|json|png)$"
)
# Vehicle pages are walked for every vehicle; other pages of one object each (a charging page per vehicle, a
# connection per account…) for this many objects.
PER_KIND = 2
VEHICLE_PAGE = re.compile(r"^/fleets/[^/]+/vehicles/\d+/$")
# Forms the walker does not send: signing out, and writes that take something away or leave the app.
SKIPPED_FORMS = re.compile(r"logout|disconnect|remove|revoke|delete|/connect/$|clean-up|adopt")

# Words that are not a manager's: SCREAMING_SNAKE enum values (FULLY_CHARGED, SYSTEM_ABS), snake_case names
# (read_location), time zones by their database name (America/New_York: pages say "New York (America)"), and paths
# of the Smartcar API (/battery, /charge/limit). Dates (29/01) and units (km/h) are not paths: a path starts after a
# space or an opening bracket.
RAW_WORDS = [
    ("raw enum value", re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")),
    ("raw name", re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")),
    ("raw time zone", re.compile(r"\b(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific)/\w+")),
    ("endpoint path", re.compile(r"(?:^|(?<=[\s(“\"']))/[a-z][a-z_-]*(?:/[a-z{}:_-]+)*/?(?=$|[\s),.;:”\"'])")),
]

# Visible text of the page: text in elements that are rendered, outside a closed <details> (summary included:
# technical words may stay behind a "Details" disclosure) and outside scripts and styles.
VISIBLE_TEXT_JS = """() => {
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.textContent.trim() || !parent || parent.closest('script, style, template, noscript')) continue;
    if (parent.closest('details:not([open])')) continue;
    if (!parent.checkVisibility({visibilityProperty: true})) continue;
    texts.push(node.textContent.trim());
  }
  return texts;
}"""

# A refusal on the page: a field's error list, an alert, an error message.
ERROR_SHOWN = ".errorlist, [role=alert], .message.error, .problem"


@dataclass
class Finding:
    role: str
    width: int
    path: str
    what: str

    def __str__(self):
        return f"{self.path} ({self.role}, {self.width} px): {self.what}"


@dataclass
class Walk:
    """One member's walk at one screen width."""

    page: object
    origin: str
    role: str
    width: int
    findings: list = field(default_factory=list)
    current: str = ""
    forms_found: list = field(default_factory=list)  # (path, form) of every page opened with forms_too
    forms_too: bool = True

    def note(self, what: str, path: str | None = None) -> None:
        finding = Finding(self.role, self.width, path or self.current, what)
        if not any(str(f) == str(finding) for f in self.findings):
            self.findings.append(finding)

    def listen(self) -> None:
        """Console errors, uncaught exceptions, failed requests and server errors are noted against the page open."""
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.note(f"script error: {str(error)[:300]}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._answered)
        self.page.on("dialog", lambda dialog: dialog.accept())  # "Send this command?" — yes

    def _console(self, message) -> None:
        # Chromium logs every 4xx and 5xx answer as a console error too: those are judged by their status below,
        # where the 422 of a refused form (swapped in place, the site's convention) is not an error.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.note(f"console error: {message.text[:300]}")

    def _failed(self, request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # a poll or a load cut short by the walker's next navigation
            return
        self.note(f"{request.method} {_path(request.url)} failed: {failure}")

    def _answered(self, response) -> None:
        if not response.url.startswith(self.origin):
            return
        status, method = response.status, response.request.method
        if status == 422:  # a refused form, swapped in place: the site's convention
            return
        if status >= 500:
            self.note(f"{method} {_path(response.url)} answered {status}")
        elif status >= 400 and response.request.resource_type in ("fetch", "xhr"):
            # htmx swaps no other 4xx: the click would do nothing visible.
            self.note(f"{method} {_path(response.url)} (htmx) answered {status}")
        elif status >= 400 and response.request.resource_type != "document":  # pages are judged where opened
            self.note(f"{_path(response.url)} answered {status}")

    def open(self, path: str) -> list[str]:
        """Opens a page, checks it, and returns the same-origin paths it links to."""
        self.current = path
        response = self.page.goto(self.origin + path)
        if response is None or response.status >= 400:
            self.note(f"answered {response.status if response else 'nothing'}")
            return []
        if _path(self.page.url) != path:  # redirected (e.g. a page this member may not see)
            return []
        self.page.wait_for_timeout(50)  # scripts that run on load (charts, the map, table labels)
        for finding in overflow(self.page):
            self.note(f"wider than the screen: {finding}")
        for what, text in self.raw_words():
            self.note(f"{what} on the page: “{text}”")
        if self.forms_too:
            self.forms_found += [(path, form) for form in self.forms()]
        return self.links()

    def raw_words(self) -> list[tuple[str, str]]:
        found = []
        for text in self.page.evaluate(VISIBLE_TEXT_JS):
            for what, pattern in RAW_WORDS:
                if pattern.search(text):
                    found.append((what, text[:80]))
        return found

    def links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all("a[href]:not([download])", "links => links.map(a => a.href)")
        paths = []
        for href in hrefs:
            url = urlsplit(urljoin(self.page.url, href))
            if f"{url.scheme}://{url.netloc}" != self.origin or SKIPPED_PATHS.search(url.path):
                continue
            paths.append(url.path)
        return paths

    def forms(self) -> list[dict]:
        """The POST forms of the open page that a member can fill: their action and fields."""
        return self.page.eval_on_selector_all(
            "form",
            """forms => forms.map((form, index) => ({
                index,
                post: !!form.getAttribute('hx-post') || (form.getAttribute('method') || '').toLowerCase() === 'post',
                action: form.getAttribute('hx-post') || form.getAttribute('action') || location.pathname,
                fields: Array.from(form.elements)
                  .filter(e => e.name && !['hidden', 'submit', 'button'].includes(e.type) && e.checkVisibility())
                  .map(e => ({name: e.name, type: e.type, required: e.required, min: e.min, max: e.max})),
              }))""",
        )

    def send_invalid(self, path: str, form: dict) -> None:
        """Opens the page again, fills the form with what it must refuse, sends it, and looks for the refusal."""
        self.current = path
        self.page.goto(self.origin + path)
        handle = self.page.locator("form").nth(form["index"])
        handle.evaluate("form => form.noValidate = true")  # the server's refusal is what is tested, not the browser's
        for spec in form["fields"]:
            invalid = _invalid_value(spec)
            if invalid is not None:
                handle.locator(f"[name='{spec['name']}']").evaluate_all(_SET_VALUE, invalid)
        submit = handle.locator("button:not([type=button]), input[type=submit]").first
        names = ", ".join(dict.fromkeys(f["name"] for f in form["fields"]))
        described = f"form {_path(form['action'])} with {names}"
        if not submit.count():
            self.note(f"{described} has no button to send it")
            return
        with self.page.expect_response(lambda r: r.request.method == "POST", timeout=10_000):
            submit.click()
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(150)  # htmx swaps the answer in after it arrives
        if not self.page.locator(ERROR_SHOWN).filter(visible=True).count():
            self.note(f"{described} sent with invalid input shows no error")


# Sets the fields of one name: boxes and options unticked, other fields to the value.
_SET_VALUE = """(fields, value) => fields.forEach((field) => {
  if (field.type === 'checkbox' || field.type === 'radio') field.checked = false;
  else if (field.tagName === 'SELECT') Array.from(field.options).forEach((o) => { o.selected = o.value === value; });
  else field.value = value;
})"""


def _invalid_value(spec: dict) -> str | None:
    """A value the field must refuse: nothing where something is required, out of range, not an address."""
    if spec["type"] == "number" and (spec["max"] or spec["min"]):
        return str(float(spec["max"]) + 1000) if spec["max"] else str(float(spec["min"]) - 1000)
    if spec["type"] == "email":
        return "not an address"
    if spec["required"]:
        return ""
    return None


def refusable(form: dict) -> bool:
    """A POST form with a field that can be given something to refuse, and that takes nothing away."""
    return (
        form["post"]
        and not SKIPPED_FORMS.search(form["action"])
        and any(_invalid_value(spec) is not None for spec in form["fields"])
    )


def _path(url: str) -> str:
    return urlsplit(url).path


def kind(path: str) -> str:
    """Pages of one kind differ only in their ids: /fleets/x/vehicles/3/charging/ → /fleets/x/vehicles/#/charging/."""
    return re.sub(r"/\d+(?=/|$)", "/#", path)


def walk(walk_: Walk, start: list[str], *, limit: int = 150) -> list[str]:
    """Breadth-first from ``start`` over same-origin links: every vehicle page, ``PER_KIND`` pages of each other kind,
    at most ``limit`` pages. Returns the paths opened, in order."""
    queue, seen, opened, kinds = list(start), set(start), [], Counter()
    while queue and len(opened) < limit:
        path = queue.pop(0)
        if not VEHICLE_PAGE.match(path) and kinds[kind(path)] >= PER_KIND:
            continue
        kinds[kind(path)] += 1
        opened.append(path)
        for link in walk_.open(path):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return opened
