"""The jobs behind ``molgen <command>``: each takes a composed Hydra config and runs."""
