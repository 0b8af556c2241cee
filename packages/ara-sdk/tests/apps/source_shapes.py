"""Function shapes whose source ends in unusual places (docstring-only, multi-line, nested, trailing comments)."""

# fmt: off
# ruff: noqa

def a():
    """Only a docstring.

    Spanning lines.
    """


def b():
    return {
        "x": 1,
    }


def c(x):
    if x:
        return 1
    else:
        return f"""
multi
"""


def d():
    x = [
        i
        for i in range(3)
    ]


def e():
    def inner():
        return (
            1
        )


def f(): return (1,
    2)


def g():
    """Doc."""
    pass
    # trailing


def h():
    raise ValueError(
        "x"
    )


def k():
    try:
        pass
    except Exception:
        pass
    finally:
        y = (
            1)
