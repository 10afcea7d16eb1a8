"""The course machinery, which turns the package into a course. ``notebook`` (the preamble every notebook starts with), ``results`` (claims,
criteria, results files), ``viz`` (plots), ``exercises`` (checks and solutions), ``build`` (notebooks
from their sources), ``scorecard`` (gathering runs, pooling seeds), ``grading`` (nbgrader in a
sandbox), ``runner`` (papermill batch runs), ``launch`` (torchrun), ``cli`` (``python -m gancourse``).
Nothing below this layer imports it."""
