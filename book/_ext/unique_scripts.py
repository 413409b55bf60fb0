"""Sphinx extension: drop repeated <script> entries from every page.

Under Jupyter Book 1.x, sphinx-thebe 0.3.1 and sphinx-togglebutton register their inline
scripts twice (once with filename None, once with ''), and the second
``const THEBE_JS_URL`` declaration is a JavaScript error on every page.
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        filename = getattr(script, "filename", script) or None  # '' and None: inline
        key = (str(filename) if filename else None, tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
