"""Theory layer: the paper's task-based model in sympy. Imports nothing else of robocarbon."""
