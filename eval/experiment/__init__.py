"""The experiment workbench: one plan, several model configurations, one report.

:mod:`eval.experiment.plan` reads the plan, :mod:`eval.experiment.available` says which models
can run here, :mod:`eval.experiment.run` runs the steps (each in a child process, resumable),
:mod:`eval.experiment.step` is what a child runs, :mod:`eval.stats` the bootstrap,
:mod:`eval.experiment.report` and :mod:`eval.experiment.html` the side-by-side report.
"""
