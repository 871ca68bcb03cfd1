"""A Kubeflow pipeline (KFP v2) whose training step runs only in an image that matches the lock it carries.

    pip install 'envbuild[kubeflow]'
    python examples/pipelines/kubeflow_pipeline.py REGISTRY/team/train:TAG   # writes gated_training.yaml

The image is one `envbuild build` made: it holds its lock (/opt/envbuild/envbuild.lock) and `envbuild-check`, so the
check needs nothing installed at run time and no network.  Upload gated_training.yaml to Kubeflow Pipelines.
"""

import sys

from kfp import compiler, dsl

from envbuild.integrations.kubeflow import checked

IMAGE = sys.argv[1] if len(sys.argv) > 1 else "registry.example/team/train:1"


@dsl.container_component
def train(epochs: int) -> dsl.ContainerSpec:
    return dsl.ContainerSpec(image=IMAGE, command=["python", "-m", "train"], args=["--epochs", epochs])


@dsl.pipeline(name="gated-training")
def gated_training(epochs: int = 3) -> None:
    step = train(epochs=epochs)
    checked(step)  # envbuild-check in the same image first; its output artifact "fingerprint" is the run's record


if __name__ == "__main__":
    compiler.Compiler().compile(gated_training, "gated_training.yaml")
    print("wrote gated_training.yaml")
