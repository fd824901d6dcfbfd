"""A Steamship-style package in the simple one-module form: each public function is a method.

Deploy it and call a method against `make dev`:

    taskport packages deploy examples/steamship_package --handle greeter --version 1.0 --instance greeter
    taskport invoke default/greeter greet name=Ada               # {"greeting": "Hello, Ada!"}
    taskport invoke default/greeter count_words text="a b c" --background
"""

BACKGROUND_METHODS = ["count_words"]  # these always run as a task; the result comes from task/status


def greet(config, name="World"):
    """The instance's `config` (e.g. {"greeting": "Hi"}) arrives in the parameter named config."""
    return {"greeting": f"{config.get('greeting', 'Hello')}, {name}!"}


def count_words(text):
    """Count the words of `text` (a background method)."""
    return {"words": len(text.split())}


def _normalize(text):
    """Private: names starting with _ are never invocable."""
    return " ".join(text.split())
