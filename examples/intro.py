"""A first amphikernel notebook: reactive cells in plain Python."""

# %% [markdown]
# # Hello, amphikernel
# Cells re-run when what they read changes. This file is a plain Python script too.

# %%
import math

radius = 3

# %%
area = math.pi * radius**2
print(f"area of a circle of radius {radius}: {area:.2f}")

# %%
squares = [n * n for n in range(12)]
squares

# %%
{"radius": radius, "area": round(area, 3), "even squares": [s for s in squares if s % 2 == 0]}
