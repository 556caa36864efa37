"""Show an object in a notebook cell (where its rich form lands in the HTML report), or print it
elsewhere."""

from __future__ import annotations


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return False
    return get_ipython() is not None


def display_or_print(obj) -> None:
    """Display `obj` in a notebook; print it elsewhere."""
    if in_notebook():
        from IPython.display import display

        display(obj)
    else:
        print(obj)


def show_image(path) -> None:
    """Display a saved image in a notebook; nothing elsewhere."""
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
