"""What the browser tests check on every page they open: nothing wider than the screen."""

# The document's own width, then each box that scrolls sideways and each outermost element that sticks out of the
# viewport (unless an ancestor that fits clips it), as "tag#id.class “text”".
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const wide = new Set();
  const name = (el) => {
    const names = typeof el.className === 'string' ? el.className.trim() : '';
    const classes = names ? '.' + names.split(/\\s+/).join('.') : '';
    const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes + (text ? ` “${text}”` : '');
  };
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX === 'visible') continue;
      const box = p.getBoundingClientRect();
      if (box.left >= -1 && box.right <= width + 1) return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > width + 1)
    found.push(`the page is ${document.documentElement.scrollWidth} px wide`);
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const scrolls = el.scrollWidth > el.clientWidth + 1 && el.clientWidth;
    if (scrolls && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
      found.push(`${name(el)} scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px)`);
    if ((box.right > width + 1 || box.left < -1) && !clipped(el)) {
      wide.add(el);
      if (!wide.has(el.parentElement))
        found.push(`${name(el)} is ${Math.round(box.width)} px wide, ` +
                   `from ${Math.round(box.left)} to ${Math.round(box.right)} px`);
    }
  }
  return found.slice(0, 10);
}"""


def overflow(page) -> list[str]:
    """What is wider than the page's viewport, in words (empty when everything fits)."""
    return page.evaluate(OVERFLOW_JS)


def overflows(page, origin: str, paths) -> dict[str, list[str]]:
    """Each path opened in turn: the ones where something is wider than the viewport, with what."""
    findings = {}
    for path in paths:
        page.goto(origin + path)
        page.wait_for_load_state("load")
        if found := overflow(page):
            findings[path] = found
    return findings
