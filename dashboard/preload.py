"""Streamlit's widget code, fetched while the user types their password.

Streamlit's browser code comes in parts: the code of a chart, a metric, a file uploader, a
multiselect, a table and a few more is fetched from the server and compiled the first time a
page shows one. Signing in waited for the Overview's parts (the charts' alone are the largest
of all), and the first visit of Bank statements (the file uploader) and of Exceptions (a text
area, a segmented control) waited for theirs: three to four times as long as every later
visit (benchmarks, scenario 8). Once the login form is on screen and the browser is idle, it
imports those parts one after the other, each in an idle moment of its own, so that signing in
and the first visit of each page find them ready, and a key pressed meanwhile waits for one
part at most. A tab that opens signed in (a reload) does the same after its first page.
"""

import json
from functools import cache
from pathlib import Path

import streamlit as st

# Streamlit's names of the parts (its static/js/<Name>.<hash>.js files) that the pages use
# and the login form does not; their own imports come with them. The Overview's first: signing
# in lands there.
WIDGET_CODE = (
    "ArrowVegaLiteChart",
    "Metric",
    "Selectbox",
    "Button",
    "Html",
    "ButtonGroup",
    "Checkbox",
    "DataFrame",
    "DateInput",
    "FileUploader",
    "Multiselect",
    "NumberInput",
    "Radio",
    "StreamlitSyntaxHighlighter",
    "TextArea",
)
PRELOADED_KEY = "widget_code_preloaded"
_STATIC_JS = Path(st.__file__).resolve().parent / "static" / "static" / "js"


@cache
def widget_code_files() -> tuple[str, ...]:
    """The files of those parts in the installed Streamlit. A name it no longer has is
    left out: that widget's code is then fetched on first use, as without the preload."""
    found = []
    for name in WIDGET_CODE:
        matches = list(_STATIC_JS.glob(f"{name}.*.js"))
        if len(matches) == 1:
            found.append(matches[0].name)
    return tuple(found)


def preload_widget_code() -> None:
    """Once per browser tab: has the browser import the widget code when it is idle, from
    where it loaded Streamlit's own (so a path prefix of the address is respected)."""
    if st.session_state.get(PRELOADED_KEY):
        return
    st.session_state[PRELOADED_KEY] = True
    files = widget_code_files()
    if not files:
        return
    st.html(
        f"""<script>
        (() => {{
            const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
            if (!main) return;
            const files = {json.dumps(files)};
            const idle = (then) => (window.requestIdleCallback || window.setTimeout)(then);
            // One part at a time, each when the browser is idle: a part runs on the page's
            // main thread as it arrives, and all of them at once held a click made right
            // after signing in for half a second.
            const load = (next) => {{
                if (next >= files.length) return;
                idle(() => import(new URL(files[next], main.src).href)
                    .catch(() => {{}})
                    .finally(() => load(next + 1)));
            }};
            // The font of st.code (the Callback URL on Bank accounts), fetched on first use too.
            idle(() => document.fonts.load('1em "Source Code Pro"').catch(() => {{}}));
            load(0);
        }})();
        </script>""",
        unsafe_allow_javascript=True,
    )
