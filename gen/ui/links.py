"""Lecture links: a view of the app in its URL, restored on open, copied by a button.

    ?tab=ddpm&ds=fashion&seed=42&t=500

Each tab names its linkable components once, at the end of its build():

    links.register("gan", ds=ds, seed=seed, psi=psi)
    links.on_load("gan", fill, [ds, seed, psi], [img, text])   # the tab's first view, after the URL's values

app.py calls links.wire() once: one demo.load reads the query string and sets the selected tab and the named
values (a bad value, an unknown tab or name is ignored; numbers are clamped to their component's range), then
every tab's on_load handlers fill the view from those values. The "copy link" button's JavaScript builds the
URL from the current values (only the ones that differ from the defaults) and keeps other parameters such as
?present=1 and ?__theme=dark.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from gen.ui.common import DATASETS

TAB = "tab"  # the query parameter naming the top-level tab
SHORT = {label: short for label, short in DATASETS.items()}  # datasets read short in a URL: ds=fashion
LONG = {short: label for label, short in DATASETS.items()}


@dataclass
class Link:
    """A linkable value: a component, or a sub-tab picked by name. `read` is a JavaScript expression for the value
    to copy when it is not the component's own (e.g. the t a chain has reached); `default` is left out of links."""
    component: gr.components.Component | None = None
    read: str | None = None
    default: Any = None
    views: dict[str, gr.Tab] = field(default_factory=dict)  # a sub-tab picker: URL value -> gr.Tab (with an id)


@dataclass
class _Tab:
    links: dict[str, Link] = field(default_factory=dict)
    loads: list[dict] = field(default_factory=list)


_TABS: dict[str, _Tab] = {}


def register(tab: str, **links: gr.components.Component | Link) -> None:
    """Name a tab's linkable components (short names: they are the URL's). Call once, at the end of build()."""
    t = _TABS.setdefault(tab, _Tab())
    for name, c in links.items():
        link = c if isinstance(c, Link) else Link(c)
        if link.default is None and link.component is not None:
            link.default = link.component.value
        t.links[name] = link


def subtabs(**views: gr.Tab) -> Link:
    """A sub-tab picker for register(): view=links.subtabs(forward=fwd_tab); each gr.Tab needs an id."""
    labels = {v.label: name for name, v in views.items()}
    read = (f"(() => {{ const m = {json.dumps(labels)}; for (const b of document.querySelectorAll("
            "'button[role=tab][aria-selected=true]')) { const v = m[b.textContent.trim()]; if (v) return v; } "
            "return ''; })()")
    return Link(read=read, default="", views=views)


def on_load(tab: str, fn, inputs: list, outputs: list, *, linked_only: bool = False, with_names: bool = False,
            **kwargs) -> None:
    """Fill part of a tab's view when the page opens, once the URL's values are set. With linked_only, fn also gets
    the names the URL set for this tab (a set) first, and runs only when there are some (else nothing changes);
    with with_names it gets them too (maybe none) and always runs."""
    _TABS.setdefault(tab, _Tab()).loads.append(dict(fn=fn, inputs=inputs, outputs=outputs, linked_only=linked_only,
                                                    with_names=with_names, kwargs=kwargs))


# --- reading a URL --------------------------------------------------------------------------------------------------

def _number(c: gr.components.Component, raw: str) -> float | None:
    try:
        v = float(raw)
    except ValueError:
        return None
    if not math.isfinite(v):
        return None
    lo, hi = getattr(c, "minimum", None), getattr(c, "maximum", None)
    v = max(v, lo) if lo is not None else v
    v = min(v, hi) if hi is not None else v
    step = getattr(c, "step", None)
    if isinstance(c, gr.Slider) and step:
        v = lo + round((v - lo) / step) * step if lo is not None else round(v / step) * step
        v = round(v, 6)
    if getattr(c, "precision", None) == 0 or (isinstance(c, gr.Slider) and float(step or 0).is_integer()):
        v = int(round(v))
    return v


def _choice(c: gr.components.Component, raw: str) -> Any:
    raw = LONG.get(raw.lower(), raw)
    pairs = [(str(label), value) for label, value in c.choices]
    for label, value in pairs:
        if raw.lower() in (label.lower(), str(value).lower()):
            return value
    starts = [value for label, value in pairs if label.lower().startswith(raw.lower())]
    return starts[0] if len(starts) == 1 and raw else None


def parse(c: gr.components.Component, raw: str) -> Any:
    """The value a URL parameter asks of a component, or None when it is not one it can take."""
    if isinstance(c, (gr.Number, gr.Slider)):
        return _number(c, raw)
    if isinstance(c, (gr.Radio, gr.Dropdown)):
        return _choice(c, raw)
    if isinstance(c, gr.Checkbox):
        return {"1": True, "true": True, "0": False, "false": False}.get(raw.lower())
    return None


def restore(params: dict[str, str]) -> tuple[str | None, dict[str, Any], dict[str, str]]:
    """(the tab, {name: value} of that tab's valid parameters, {name: sub-tab id}) that a query string asks for."""
    tab = params.get(TAB, next(iter(_TABS), None))
    if tab not in _TABS:
        return None, {}, {}
    values, views = {}, {}
    for name, link in _TABS[tab].links.items():
        if name not in params:
            continue
        if link.views:
            if params[name] in link.views:
                views[name] = params[name]
        elif (v := parse(link.component, params[name])) is not None:
            values[name] = v
    return tab, values, views


# --- wiring ---------------------------------------------------------------------------------------------------------

def _components() -> list[tuple[str, str, Link]]:
    return [(tab, name, link) for tab, t in _TABS.items() for name, link in t.links.items()]


def _copy_js(tab_labels: dict[str, str]) -> tuple[str, list]:
    """The copy button's JavaScript and its inputs: builds the URL of the current view, copies and returns it."""
    inputs, spec = [], []
    for tab, name, link in _components():
        index = None
        if link.read is None and link.component is not None:
            if link.component not in inputs:
                inputs.append(link.component)
            index = inputs.index(link.component)
        spec.append([tab, name, index, link.read is not None, _jsonable(link.default)])
    reads = ", ".join(f"{json.dumps(f'{tab}.{name}')}: () => ({link.read})" for tab, name, link in _components()
                      if link.read)
    js = f"""(...values) => {{
  const tabs = {json.dumps({label: tab for tab, label in tab_labels.items()})};
  const spec = {json.dumps(spec)}, short = {json.dumps(SHORT)}, reads = {{{reads}}};
  const fmt = (v) => typeof v === 'number' ? String(Number.isInteger(v) ? v : Number(v.toFixed(4)))
                                           : String(short[v] ?? v ?? '');
  let tab = null;
  for (const b of document.querySelectorAll('button[role=tab][aria-selected=true]'))
    if (tabs[b.textContent.trim()]) {{ tab = tabs[b.textContent.trim()]; break; }}
  const q = new URLSearchParams(location.search);
  for (const [, name] of spec) q.delete(name);
  q.delete('{TAB}');
  if (tab) q.set('{TAB}', tab);
  for (const [t, name, i, read, dflt] of spec) {{
    if (t !== tab) continue;
    const v = fmt(read ? reads[t + '.' + name]() : values[i]);
    if (v !== '' && v !== fmt(dflt)) q.set(name, v);
  }}
  const url = location.origin + location.pathname + '?' + q.toString();
  try {{ navigator.clipboard.writeText(url).catch(() => {{}}); }} catch (e) {{}}
  const b = document.querySelector('#copy-link');
  if (b && !b.dataset.label) {{
    b.dataset.label = b.textContent; b.textContent = 'link copied';
    setTimeout(() => {{ b.textContent = b.dataset.label; delete b.dataset.label; }}, 1500);
  }}
  return url;
}}"""
    return js, inputs


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


APPLY_JS = """(plan) => plan ? [
  plan.tab ? {__type__: 'update', selected: plan.tab} : undefined,
  ...plan.values.map((v) => v ?? undefined),
  ...plan.subs.map((s) => s ? {__type__: 'update', selected: s} : undefined)] : []"""
# A tab is filled once, when first shown: its hidden trigger button is clicked by the page (marked, so only once).
FILL_JS = "(tab) => { const b = document.getElementById('fill-' + tab); if (b && !b.dataset.done) " \
          "{ b.dataset.done = '1'; b.click(); } }"


def wire(demo: gr.Blocks, tabs: gr.Tabs, copy: gr.Button, box: gr.Textbox) -> None:
    """On load, read the URL's view on the server and set it in the page; fill each tab's first view (its on_load
    handlers) when it is first shown, the landing tab at once; wire the copy button.

    Why the values are set by a JavaScript step and tabs are filled when first shown: Gradio's page keeps a loading
    status for every component a server event ever wrote and copies each one's value on every later event, so
    writing every tab at load made every click in the app slower (a GAN seed 2.5x)."""
    items = {c.id: c for c in tabs.children if isinstance(c, gr.Tab)}
    entries = [(tab, name, link) for tab, name, link in _components() if link.component is not None]
    targets = list(dict.fromkeys(link.component for _, _, link in entries))
    parents = list(dict.fromkeys(v.parent for _, _, link in _components() for v in link.views.values()))
    asked, plan = gr.State({}), gr.JSON(visible=False)
    with gr.Row(elem_classes="fill-triggers"):
        fills = {tab: gr.Button(elem_id=f"fill-{tab}") for tab in _TABS if _TABS[tab].loads}

    def _restore(request: gr.Request):
        params = dict(request.query_params) if request else {}
        tab, values, views = restore(params)
        chosen = {link.component: values[name] for t, name, link in entries if t == tab and name in values}
        subs = {p: None for p in parents}
        for name, view in views.items():
            item = _TABS[tab].links[name].views[view]
            subs[item.parent] = item.id
        return ({tab: set(values) | set(views)} if tab else {},
                {"tab": tab if tab and TAB in params else None, "landing": tab or next(iter(items), None),
                 "values": [_jsonable(chosen.get(c)) for c in targets], "subs": list(subs.values())})

    demo.load(_restore, None, [asked, plan], api_name=False, show_progress="hidden").then(
        None, plan, [tabs, *targets, *parents], js=APPLY_JS).then(
        None, plan, None, js=f"(plan) => ({FILL_JS})(plan && plan.landing)")
    for tab, button in fills.items():
        if tab in items:
            items[tab].select(None, None, None, js=f"() => ({FILL_JS})({json.dumps(tab)})")
        for load in _TABS[tab].loads:
            fn, inputs = load["fn"], load["inputs"]
            if load["linked_only"]:
                fn, inputs = _linked(tab, fn, len(load["outputs"])), [asked, *inputs]
            elif load["with_names"]:
                fn, inputs = _named(tab, fn), [asked, *inputs]
            button.click(fn, inputs, load["outputs"], **{"api_name": False, **load["kwargs"]})
    js, inputs = _copy_js({tab: item.label for tab, item in items.items()})
    copy.click(None, inputs, box, js=js, api_name=False)


def _named(tab: str, fn):
    def handler(asked: dict, *args):
        return fn(asked.get(tab, set()) if asked else set(), *args)
    return handler


def _linked(tab: str, fn, n_outputs: int):
    def handler(asked: dict, *args):
        names = asked.get(tab, set()) if asked else set()
        if not names:
            return gr.skip() if n_outputs == 1 else tuple(gr.skip() for _ in range(n_outputs))
        return fn(names, *args)
    return handler
