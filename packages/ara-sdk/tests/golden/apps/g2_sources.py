"""Fixture: how function sources are captured (decorators, comments, blank lines, nesting)."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

from ara_sdk import App

app = App("source-shapes")


@app.tool()
def plain(a: int, b: int = 2) -> int:
    return a + b


@app.tool(
    id="multi_line_decorator",
)
# a comment between the decorator and the def
def wrapped(
    text: str,
    times: int = 1,
) -> str:
    """Repeat text.

    The second paragraph is indented like the code.
    """
    # a comment inside
    return text * times

    # a trailing comment after a blank line


@app.tool()
def with_trailing_blank_lines(items: list, flag: bool = False, ratio: float = 0.5) -> dict:
    '''Single-quoted docstring.'''
    return {"n": len(items), "flag": flag, "ratio": ratio}



if True:

    @app.tool()
    def indented(mapping: dict, maybe: "str | None" = None) -> dict:
        """Declared inside an if block."""

        def inner(x):
            return x

        return inner(mapping)


@app.agent(entrypoint=True)
def coordinator(input: dict) -> str:
    """Coordinate.
        Odd indentation here.
    Back."""
    return "Coordinate."


@app.agent()
def no_docstring(payload) -> "str":
    return "x"  # trailing comment on the last line
