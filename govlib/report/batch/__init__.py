"""The month's batch of report notebooks (``govlib run``), in the order a run uses them.

- :mod:`.arguments`: validation of the run's arguments and of every notebook parameter;
- :mod:`.keys`: input keys and manifests of notebook outputs (``--resume``);
- :mod:`.kernels`: the kernel spec and the warm kernel a worker keeps
  (:mod:`.kernel_state` runs *inside* that kernel);
- :mod:`.worker`: what a worker process does with one task (a cube, a notebook + HTML);
- :mod:`.pool`: the worker processes, their pipe protocol and kill-safety;
- :mod:`.publish`: staging, the run lock, replacing folders, the month's files;
- :mod:`.result`: what happened to each report (the index's rows);
- :mod:`.run`: :func:`~.run.run_batch`, the scheduler tying these together;
- :mod:`.store`: the stored notebook outputs nbval compares.

Nothing is imported here: a kernel imports :mod:`.kernel_state` without the rest.
"""
