"""Sphinx configuration of the course's website. ``gancourse.course.book`` stages the pages next to
this file (the site's source folder) and runs ``sphinx-build -W``: every warning fails the build.
Nothing is executed: the notebooks are the committed executed runs."""
import json
from pathlib import Path

SITE = json.loads((Path(__file__).parent / "_site.json").read_text())   # written by the staging step

project = SITE["title"]
author = "gancourse"
copyright = "gancourse authors"
extensions = ["myst_nb", "sphinx-mathjax-offline"]   # MathJax served from the site's own _static/
exclude_patterns = ["_build", "_readme/*", "_site.json", "**.ipynb_checkpoints"]

# The notebooks are shown as they ran: never executed here.
nb_execution_mode = "off"
nb_render_markdown_format = "myst"        # the claims tables (text/markdown outputs) as tables, with math
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

html_theme = "sphinx_book_theme"
html_title = SITE["title"]
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_last_updated_fmt = None
html_copy_source = True                   # the theme's download button offers each page's notebook
html_show_sourcelink = False
html_theme_options = {
    "repository_url": SITE["repository"],
    "repository_branch": SITE["branch"],
    "use_repository_button": bool(SITE["repository"]),
    "use_download_button": True,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
