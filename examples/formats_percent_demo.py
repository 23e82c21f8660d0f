#!/usr/bin/env python
"""A percent-format notebook that also runs as a plain script.

It shows the parts of the format amphikernel reads and writes back byte for byte: this
docstring and the PEP 723 block below are the notebook header; named cells; options in the
marker line; markdown cells written as comments.
"""
# /// script
# requires-python = ">=3.10"
# dependencies = []
# ///

# %% [markdown]
# # Triangular numbers
#
# The *n*-th triangular number is the sum `1 + 2 + ... + n`.

# %% parameters hide_code=true
n = 10


# %% closed form
def triangular(k: int) -> int:
    """Sum of the first ``k`` positive integers."""
    return k * (k + 1) // 2


# %%
values = [triangular(k) for k in range(1, n + 1)]
assert values[-1] == sum(range(1, n + 1))
print(values)

# %% [markdown]
# A text cell with an empty line:
#
# and a `# %%` that is not a marker.
