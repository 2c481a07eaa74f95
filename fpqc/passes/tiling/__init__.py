"""The rules and the planner of the ``tile`` pass (:mod:`fpqc.passes.tile`)."""
