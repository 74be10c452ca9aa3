"""Reports: translation and locale formats (``i18n``), the figure theme (``theme``), the
per-market cube (``cube``), the papermill batch runner (``runner``) and HTML output (``html``).
"""
