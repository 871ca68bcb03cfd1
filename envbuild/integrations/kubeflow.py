"""Kubeflow Pipelines (the KFP v2 SDK): refuse to train in a drifted image, and record the environment of the step.

Installed with ``pip install envbuild[kubeflow]``; nothing of envbuild imports this module: only a pipeline does.
An image that ``envbuild build`` made carries its lock (``/opt/envbuild/envbuild.lock``) and its stdlib checker
(``envbuild-check``), so the check needs nothing installed at run time and no network.  One line per step::

    from envbuild.integrations.kubeflow import checked

    @dsl.pipeline(name="train")
    def pipeline():
        train = train_op(epochs=3)          # any container or Python component whose image envbuild built
        checked(train)                      # the same image is checked first; train runs only if it matches

``checked`` adds ``check_component(image)`` in front of the task: a container component that runs the image's
``envbuild-check --lock LOCK --fingerprint PATH`` (exit 1 on drift fails the step, and the run stops before
training) with caching off (a cached check would check nothing), and outputs the fingerprint, ``envbuild record``'s
JSON, as its ``fingerprint`` artifact for later steps and the model registry.
"""

# No `from __future__ import annotations`: KFP reads the component's annotations (dsl.Output[...]) at run time.
from typing import Any

from kfp import dsl

from envbuild.paths import IMAGE_LOCK

CHECKER = "envbuild-check"  # on the PATH of every image envbuild builds


def check_component(image: str, lock: str = IMAGE_LOCK) -> Any:
    """A KFP container component that checks IMAGE against LOCK (the lock it carries) in a container of it; its
    output artifact ``fingerprint`` holds the environment's fingerprint (JSON)."""
    @dsl.container_component  # type: ignore[untyped-decorator,unused-ignore]
    def envbuild_check(fingerprint: dsl.Output[dsl.Artifact]) -> dsl.ContainerSpec:
        return dsl.ContainerSpec(image=image, command=[CHECKER], args=["--lock", lock, "--fingerprint",
                                                                        fingerprint.path])

    return envbuild_check


def checked(task: dsl.PipelineTask, lock: str = IMAGE_LOCK, image: str | None = None) -> dsl.PipelineTask:
    """Put the check of TASK's image (or IMAGE) against LOCK in front of TASK: TASK runs after it, so only in an
    environment that matches.  Returns the check's task (its ``outputs["fingerprint"]``)."""
    image = image or task.component_spec.implementation.container.image
    if not image:
        raise ValueError(f"{task.name}: its component names no image; give checked(..., image=...)")
    check = check_component(image, lock)()
    check.set_caching_options(False)
    check.set_display_name(f"envbuild check: {task.name}")
    task.after(check)
    return check
